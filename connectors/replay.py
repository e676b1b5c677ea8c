"""Replay quarantined records: map each raw record again through the stream it came from
and store it; what is stored leaves the quarantine, what is still refused stays with its
new reason.

Feeds arrive in any order: a request that names a citizen before the register that holds
it has loaded is quarantined as awaiting that citizen, and the run that brings the citizen
replays it (``awaited_only``). ``citylens quarantine retry`` replays everything replayable
by hand (after a mapping was fixed, say). Records quarantined before CityLens kept their
stream, and records whose raw text was cut, cannot be replayed and are left as they are.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, or_, select, update
from sqlalchemy.sql import Select

from connectors.base import BAD_RECORD_ERRORS, Connector, Mapped, Stream
from connectors.registry import get_connector
from connectors.storing import store_batch
from connectors.storing_refs import refusal_fields
from dashboard.model import Asset, Citizen, District, FeedRun, Quarantine, Source
from dashboard.settings import Settings
from dashboard.store import bump_data_version, unit_of_work

REPLAY_BATCH = 1_000
REFERENCE_TABLES = {"citizen": Citizen.id, "district": District.id, "asset": Asset.id}


@dataclass
class ReplayReport:
    """What a replay did, per source: records tried, stored, still quarantined, and the
    sources that could not be replayed with why."""

    tried: int = 0
    stored: int = 0
    still_quarantined: int = 0
    skipped: dict[str, str] = field(default_factory=dict)


def _candidates(source_id: str | None, awaited_only: bool) -> Select[Any]:
    stmt = select(Quarantine).where(Quarantine.stream.is_not(None)).order_by(Quarantine.id)
    if source_id is not None:
        stmt = stmt.where(Quarantine.source_id == source_id)
    if awaited_only:  # only those whose awaited reference the store now holds
        stmt = stmt.where(or_(*[
            (Quarantine.missing == kind) & Quarantine.missing_ref.in_(select(column))
            for kind, column in REFERENCE_TABLES.items()]))
    return stmt


def _streams(conn: Connection, source_id: str) -> dict[str, Stream]:
    """The source's streams by name, from its stored kind and configuration."""
    source = conn.execute(select(Source.kind, Source.config)
                          .where(Source.id == source_id)).one()
    connector: Connector = get_connector(source.kind)(dict(source.config or {}))
    return {stream.name: stream for stream in connector.streams()}


def _batches(engine: Engine, stmt: Select[Any]) -> Iterator[list[Any]]:
    after = 0
    while True:
        with engine.connect() as conn:
            rows = list(conn.execute(stmt.where(Quarantine.id > after).limit(REPLAY_BATCH)))
        if not rows:
            return
        yield rows
        after = rows[-1].id


def _replay_batch(conn: Connection, settings: Settings, rows: list[Any],
                  streams: dict[str, Stream], report: ReplayReport) -> None:
    records: list[tuple[Any, Mapped]] = []
    row_of: dict[int, Any] = {}  # id(raw) -> its quarantine row: refusals come back by identity
    reasons: dict[int, dict[str, str | None]] = {}  # quarantine row id -> its new reason
    for row in rows:
        stream = streams.get(row.stream)
        try:
            if stream is None:
                raise ValueError(f"the source has no stream {row.stream!r} any more")
            raw = json.loads(row.payload)
            result = stream.map(raw)
        except json.JSONDecodeError:  # cut: not replayable, left as it is
            reasons[row.id] = {"reason": row.reason, "missing": row.missing,
                               "missing_ref": row.missing_ref}
            continue
        except BAD_RECORD_ERRORS as error:
            reasons[row.id] = refusal_fields(f"{row.stream}: {error}")
            continue
        row_of[id(raw)] = row
        records.append((raw, result))
    report.tried += len(rows)
    stored_ids = {row.id for row in rows} - set(reasons)
    if records:
        stored, refused = store_batch(conn, settings, records, rows[0].source_id)
        report.stored += stored
        for raw, reason in refused:
            row = row_of[id(raw)]
            stored_ids.discard(row.id)
            reasons[row.id] = refusal_fields(reason)
    if stored_ids:
        conn.execute(delete(Quarantine).where(Quarantine.id.in_(sorted(stored_ids))))
    for row_id, fields in reasons.items():
        conn.execute(update(Quarantine).where(Quarantine.id == row_id).values(**fields))
    report.still_quarantined += len(reasons)


def replay_quarantine(engine: Engine, settings: Settings, *, source_id: str | None = None,
                      awaited_only: bool = False) -> dict[str, ReplayReport]:
    """Replay the quarantined records (of one source, or all; with ``awaited_only`` only
    those whose awaited reference has arrived), each source's as a ``replay`` feed run.
    Returns a report per source."""
    stmt = _candidates(source_id, awaited_only)
    with engine.connect() as conn:
        sources = sorted(set(conn.execute(
            stmt.with_only_columns(Quarantine.source_id).order_by(None)).scalars()))
    reports: dict[str, ReplayReport] = {}
    for source in sources:
        report = reports[source] = ReplayReport()
        started = datetime.now(timezone.utc)
        try:
            with engine.connect() as conn:
                streams = _streams(conn, source)
        except (LookupError, ValueError) as error:  # pydantic's ValidationError included
            report.skipped[source] = " ".join(str(error).split())[:300]
            continue
        for rows in _batches(engine, stmt.where(Quarantine.source_id == source)):
            with unit_of_work(engine) as conn:
                _replay_batch(conn, settings, rows, streams, report)
        _record_run(engine, source, started, report)
    return reports


def _record_run(engine: Engine, source: str, started: datetime, report: ReplayReport) -> None:
    with unit_of_work(engine) as conn:
        conn.execute(insert(FeedRun).values(
            source_id=source, started=started, finished=datetime.now(timezone.utc),
            heartbeat_at=started, status="replay", records_in=report.tried,
            stored=report.stored, quarantined=report.still_quarantined))
        bump_data_version(conn, {"feeds"})
