"""Read models of the feed-health page: every source's recent runs and quarantine.

Bounded queries: the last ``RUNS_SHOWN`` runs of each source (by the feed_runs index on
source_id) and the newest quarantined records of one source.
"""
from __future__ import annotations

import os

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, func, select

from dashboard.model import FeedRun, Quarantine, Source
from dashboard.queries.base import cached as _cached
from dashboard.settings import Settings

RUNS_SHOWN = 20
PAYLOAD_SHOWN = 600  # characters of a quarantined payload shown on the page


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _watermark_time(watermark: str | None) -> datetime | None:
    if not watermark:
        return None
    try:
        moment = datetime.fromisoformat(watermark.replace("Z", "+00:00"))
    except ValueError:
        return None  # not every cursor is a time
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


WATERMARK_STATUSES = ("ok", "partial", "reset")  # runs whose watermark the next run reads after
# A "running" run whose heartbeat stopped this long ago was killed, and no longer holds its
# source (CITYLENS_RUN_LEASE_SECONDS; the heartbeat beats four times within it).
RUN_LEASE_SECONDS = max(4.0, float(os.environ.get("CITYLENS_RUN_LEASE_SECONDS", "60")))


def run_status(run: Any, now: datetime | None = None) -> str:
    """A run's status as shown: "interrupted" for a run still marked running whose
    heartbeat (``connectors.runner``, wall-clock time) stopped more than
    ``RUN_LEASE_SECONDS`` before ``now`` (default: the wall clock)."""
    if run.status != "running":
        return str(run.status)
    now = now or datetime.now(timezone.utc)
    last_sign = run.heartbeat_at or run.started
    if last_sign.tzinfo is None:
        last_sign = last_sign.replace(tzinfo=timezone.utc)
    return "interrupted" if (now - last_sign).total_seconds() > RUN_LEASE_SECONDS else "running"


def _source_health(
    conn: Connection, source: Any, now: datetime, stale_after: float
) -> dict[str, Any]:
    runs = conn.execute(
        select(FeedRun).where(FeedRun.source_id == source.id)
        .order_by(FeedRun.id.desc()).limit(RUNS_SHOWN)
    ).all()
    quarantined = conn.execute(
        select(func.count()).select_from(Quarantine).where(Quarantine.source_id == source.id)
    ).scalar_one()
    # a quarantine replay is shown in the history, but the source's state is its own runs'
    last = next((r for r in runs if r.status != "replay"), runs[0] if runs else None)
    status = run_status(last) if last else "never run"
    good = next((r for r in runs if r.status in WATERMARK_STATUSES), None)
    newest = _watermark_time(good.watermark) if good else None
    reference = newest or (good.finished if good else None)
    lag = (now - reference).total_seconds() if reference else None
    return {
        "id": source.id, "kind": source.kind, "location": source.location,
        "enabled": source.enabled,
        "status": status,
        "last_started": _iso(last.started) if last else None,
        "last_error": last.error if last else None,
        "records_in": last.records_in if last else 0,
        "stored": last.stored if last else 0,
        "quarantined_last": last.quarantined if last else 0,
        "quarantined_total": int(quarantined),
        "newest_data": _iso(newest),
        "lag_seconds": lag,
        "stale": lag is None or lag > stale_after or status in ("failed", "interrupted"),
        "runs": [
            {"started": _iso(r.started), "status": run_status(r), "records_in": r.records_in,
             "stored": r.stored, "quarantined": r.quarantined}
            for r in reversed(runs)
        ],
    }


def feed_health(settings: Settings, stale_after_hours: float = 24) -> list[dict[str, Any]]:
    """Every configured source with its last run, lag behind real time and recent runs."""
    now = settings.current_time()

    def compute(conn: Connection) -> list[dict[str, Any]]:
        sources = conn.execute(select(Source).order_by(Source.id)).all()
        return [_source_health(conn, s, now, stale_after_hours * 3600) for s in sources]

    minute = int(now.timestamp()) // 60  # lag moves with the clock: recompute each minute
    return _cached(settings, "feed_health", {"minute": minute, "stale": stale_after_hours},
                   compute)


def quarantined(settings: Settings, source: str | None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest quarantined records (of one source, or all), payloads shortened."""

    def compute(conn: Connection) -> list[dict[str, Any]]:
        stmt = select(Quarantine.id, Quarantine.source_id, Quarantine.received,
                      Quarantine.reason, func.substr(Quarantine.payload, 1, PAYLOAD_SHOWN))
        if source:
            stmt = stmt.where(Quarantine.source_id == source)
        rows = conn.execute(stmt.order_by(Quarantine.id.desc()).limit(limit)).all()
        return [{"id": i, "source": s, "received": _iso(r), "reason": why, "payload": p}
                for i, s, r, why, p in rows]

    return _cached(settings, "quarantined", {"source": source, "limit": limit}, compute)
