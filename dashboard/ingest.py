"""Ingest entry points shared by the demo generator and connectors.

Each call stores a batch, keeps rollups and alerts in step, and bumps the data version of
what it touched (its asset types and domains, alerts when they changed), all in the
caller's transaction.
"""
from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection

from dashboard.alerts import evaluate_alerts
from dashboard.kpis.definitions import load_alert_rules
from dashboard.settings import Settings
from dashboard.store.observations import IngestResult, ingest_observations
from dashboard.store.version import bump_data_version


def ingest_observation_batch(
    conn: Connection, frame: pd.DataFrame, settings: Settings, *, alerts: bool = True
) -> IngestResult:
    """Store observations (asset_pk, metric, time epoch s, value[, unit]); update rollups,
    raise/clear threshold alerts, bump the data versions of the types and domains touched
    (and of alerts when some changed: ``alerts``, and ``alerts:<domain>`` of the domains
    whose readings were evaluated, which a domain's asset views depend on)."""
    result = ingest_observations(conn, frame, settings.timezone)
    scopes = result.scopes
    if alerts and result.new + result.updated:
        if evaluate_alerts(conn, load_alert_rules(settings.kpis_file)):
            scopes |= {"alerts", *(f"alerts:{d}" for d in result.domains)}
    bump_data_version(conn, scopes)
    return result
