"""The shared runner: one run of a source is fetch -> parse -> map -> validate -> store.

It records a feed run (counts in / stored / quarantined, watermark, duration, error),
reads after the source's last watermark, stores good records in batches (idempotent
upserts, observations through the rollup-maintaining ingest), and quarantines every bad
record raw with its reason. A source that cannot be read is marked failed; what was
already read and good is kept.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from connectors.base import (
    BAD_RECORD_ERRORS,
    COMMIT_POINT,
    Connector,
    Mapped,
    SourceFormatError,
    Stream,
)
from connectors.replay import replay_quarantine
from connectors.storing import plausible_of, store_batch
from connectors.storing_refs import refusal_fields
from connectors.storing_frames import store_chunk
from dashboard.feed_health import RUN_LEASE_SECONDS, WATERMARK_STATUSES
from dashboard.model import FeedRun, Quarantine, Source
from dashboard.queries.warm import warm_default_views
from dashboard.settings import Settings
from dashboard.store import bump_data_version, unit_of_work, upsert
from dashboard.store.problems import describe

log = logging.getLogger(__name__)
BATCH_RECORDS = 5_000


@dataclass
class RunReport:
    """What one run of a source did."""

    source: str
    kind: str
    records_in: int = 0
    stored: int = 0
    quarantined: int = 0
    status: str = "running"  # ok | partial | failed | busy (another process runs it)
    watermark: str | None = None
    error: str | None = None
    failure: str | None = None  # "format" (input unreadable) | "unavailable" (source down)
    seconds: float = 0.0
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SourceBusy(Exception):
    """The source is being run elsewhere (another process or machine holds its one
    "running" run, with a live heartbeat): this run did not start."""

    def __init__(self, source_id: str, since: datetime | None) -> None:
        when = f" since {since.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC" if since else ""
        super().__init__(f"already running in another process{when}; not started twice")
        self.source_id, self.since = source_id, since


@dataclass
class _Pending:
    records: list[tuple[Mapping[str, Any], Mapped]] = field(default_factory=list)
    bad: list[tuple[Any, str]] = field(default_factory=list)
    stream: str | None = None  # the stream they came from
    brought: set[str] = field(default_factory=set)  # kinds of reference stored: citizen, ...


def _now() -> datetime:
    return datetime.now(timezone.utc)


QUARANTINE_PAYLOAD_CHARS = 100_000  # of a raw record kept in quarantine; the rest is cut


def _raw_text(record: Any) -> str:
    """The raw record as JSON text (as ``repr`` when it is not JSON), cut to at most
    ``QUARANTINE_PAYLOAD_CHARS`` characters (a cut record cannot be replayed)."""
    try:
        text = json.dumps(record, default=str, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(record)
    if len(text) > QUARANTINE_PAYLOAD_CHARS:
        return f"{text[:QUARANTINE_PAYLOAD_CHARS]}… [cut: {len(text):,} characters in all]"
    return text


def quarantine_rows(source_id: str, run_id: int | None, stream: str | None,
                    bad: list[tuple[Any, str]]) -> list[dict[str, Any]]:
    """Quarantine rows of refused records: raw text, reason, the stream to replay them
    through, and the reference each awaits, if any."""
    now = _now()
    return [{"source_id": source_id, "run_id": run_id, "received": now,
             "payload": _raw_text(raw), "stream": stream, **refusal_fields(reason)}
            for raw, reason in bad]


def _brought(stored: list[Mapped]) -> set[str]:
    """The kinds of reference (citizen, district, asset) that the stored records brought."""
    kinds = {"citizen": any(m.citizens for m in stored),
             "district": any(m.districts for m in stored),
             "asset": any(m.assets for m in stored)}
    return {kind for kind, present in kinds.items() if present}


def watermark_run(engine: Engine, source_id: str) -> Any:
    """The source's newest run that succeeded (ok or partial), or in which an operator set
    the watermark (``citylens sources watermark --reset``): id, watermark, status,
    finished; None when there is none."""
    with engine.connect() as conn:
        return conn.execute(
            select(FeedRun.id, FeedRun.watermark, FeedRun.status, FeedRun.finished)
            .where(FeedRun.source_id == source_id, FeedRun.status.in_(WATERMARK_STATUSES))
            .order_by(FeedRun.id.desc())
            .limit(1)
        ).first()


def last_watermark(engine: Engine, source_id: str) -> str | None:
    """The watermark the source's next run reads after (``watermark_run``'s)."""
    run = watermark_run(engine, source_id)
    return None if run is None else run.watermark


INTERRUPTED = "interrupted: the process running it stopped before it finished"
HEARTBEAT_SECONDS = min(10.0, RUN_LEASE_SECONDS / 4)  # a run in progress stamps
# ``heartbeat_at`` this often


class _Heartbeat:
    """Stamps a run's ``heartbeat_at`` from a daemon thread until stopped; it dies with
    its process, so a run killed with -9 stops beating and is seen as interrupted."""

    def __init__(self, engine: Engine, run_id: int) -> None:
        self.engine, self.run_id = engine, run_id
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"feed-run-{run_id}",
                                       daemon=True)

    def _beat(self) -> None:
        while not self.stopped.wait(HEARTBEAT_SECONDS):
            try:
                with unit_of_work(self.engine) as conn:
                    conn.execute(update(FeedRun).where(FeedRun.id == self.run_id)
                                 .values(heartbeat_at=_now()))
            except SQLAlchemyError:  # the store is down: the run itself will say so
                continue

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=HEARTBEAT_SECONDS)


LAST_SIGN = func.coalesce(FeedRun.heartbeat_at, FeedRun.started)  # a run's last sign of life


def _interrupt(conn: Connection, *conditions: Any) -> int:
    """Mark failed, as interrupted, the "running" runs matching ``conditions``: they ended
    when they last beat. Returns how many."""
    done = conn.execute(update(FeedRun).where(FeedRun.status == "running", *conditions)
                        .values(status="failed", finished=LAST_SIGN, error=INTERRUPTED))
    return int(done.rowcount or 0)


def mark_interrupted(conn: Connection, source_id: str | None = None,
                     now: datetime | None = None) -> int:
    """Mark failed the "running" runs (of one source, or all) whose heartbeat stopped more
    than ``RUN_LEASE_SECONDS`` ago: their process was killed or crashed. Returns how many."""
    cutoff = (now or _now()) - timedelta(seconds=RUN_LEASE_SECONDS)
    mine = () if source_id is None else (FeedRun.source_id == source_id,)
    return _interrupt(conn, LAST_SIGN < cutoff, *mine)


HOLDER = f"{socket.gethostname()}:{os.getpid()}"  # who runs a run: this process


def _gone(holder: str | None) -> bool:
    """Whether ``holder`` (``host:pid``) is a process of this host that no longer exists
    (another host's, or one still alive, is left to its lease)."""
    host, _, pid = (holder or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists (another user's)
        return False
    return False


def _start(engine: Engine, connector: Connector, source_id: str, location: str) -> int:
    config = connector.config.model_dump(mode="json")  # SecretStr values come out masked
    for _ in range(2):
        try:
            with unit_of_work(engine) as conn:
                upsert(conn, Source, [{"id": source_id, "kind": connector.kind,
                                       "location": location, "config": config}])
                mark_interrupted(conn, source_id)
                started = _now()
                result = conn.execute(insert(FeedRun).values(  # refused while one is running
                    source_id=source_id, started=started, heartbeat_at=started,
                    status="running", holder=HOLDER))
                key = result.inserted_primary_key
                assert key is not None  # a single-row INSERT always has one
                return int(key[0])
        except IntegrityError:  # ux_feed_run_running: one running run a source
            with unit_of_work(engine) as conn:
                running = conn.execute(select(FeedRun.id, FeedRun.started, FeedRun.holder)
                                       .where(FeedRun.source_id == source_id,
                                              FeedRun.status == "running")).first()
                if running is None or not _gone(running.holder):
                    raise SourceBusy(source_id, running.started if running else None) from None
                _interrupt(conn, FeedRun.id == running.id)  # its process is gone: let go
    raise SourceBusy(source_id, None)


def _flush(engine: Engine, settings: Settings, pending: _Pending, report: RunReport) -> None:
    with unit_of_work(engine) as conn:
        if pending.records:
            stored, refused = store_batch(conn, settings, pending.records, report.source)
            report.stored += stored
            pending.bad.extend(refused)
            out = {id(raw) for raw, _ in refused}
            kept = [mapped for raw, mapped in pending.records if id(raw) not in out]
            _advance_watermark(report, kept)
            pending.brought |= _brought(kept)
        if pending.bad:
            conn.execute(insert(Quarantine), quarantine_rows(report.source, report.run_id,
                                                             pending.stream, pending.bad))
            report.quarantined += len(pending.bad)
            bump_data_version(conn, {"feeds"})  # the feed-health page's quarantine list
    pending.records.clear()
    pending.bad.clear()


def _commit(engine: Engine, settings: Settings, pending: _Pending, report: RunReport,
            stream: Stream) -> None:
    """Store what is pending, then acknowledge to the stream's source what it has yielded:
    a kill -9 before the acknowledgement has the source send it again, never lose it."""
    _flush(engine, settings, pending, report)
    stream.acknowledge()


def _advance_watermark(report: RunReport, stored: list[Mapped]) -> None:
    """Move the run's watermark to the newest cursor of the records stored: a refused
    record (a time in year 9999, an unknown reference) never moves it."""
    for mapped in stored:
        if mapped.cursor and (report.watermark is None or mapped.cursor > report.watermark):
            report.watermark = mapped.cursor


def _replay_awaited(engine: Engine, settings: Settings, report: RunReport) -> None:
    try:
        replay_quarantine(engine, settings, awaited_only=True)
    except SQLAlchemyError as error:  # the run itself is done and recorded
        log.warning("replaying the quarantine after %s failed: %s", report.source,
                    store_error_line(error))


def store_error_line(error: SQLAlchemyError) -> str:
    """One line (at most 500 characters) saying why the store refused, and what to do when
    the problem is a known one (a full or read-only disk, a server that went away)."""
    return describe(error)[:500]


def _finish(engine: Engine, report: RunReport, kept: int) -> None:
    with unit_of_work(engine) as conn:
        conn.execute(
            update(FeedRun).where(FeedRun.id == report.run_id).values(
                finished=_now(), status=report.status, records_in=report.records_in,
                stored=report.stored, quarantined=report.quarantined,
                watermark=report.watermark, error=report.error,
            )
        )
        forget_old_runs(conn, report.source, kept)


def forget_old_runs(conn: Connection, source_id: str, kept: int) -> int:
    """Delete the source's finished runs older than its newest ``kept``, except those its
    quarantined records point at and its newest successful one (whose watermark the next
    run reads after). Returns how many went."""
    oldest_kept = conn.execute(
        select(FeedRun.id).where(FeedRun.source_id == source_id)
        .order_by(FeedRun.id.desc()).offset(kept - 1).limit(1)).scalar()
    if oldest_kept is None:
        return 0
    cited = select(Quarantine.run_id).where(Quarantine.source_id == source_id,
                                            Quarantine.run_id.is_not(None))
    newest_success = conn.execute(
        select(FeedRun.id).where(FeedRun.source_id == source_id,
                                 FeedRun.status.in_(WATERMARK_STATUSES))
        .order_by(FeedRun.id.desc()).limit(1)).scalar()
    gone = conn.execute(delete(FeedRun).where(
        FeedRun.source_id == source_id, FeedRun.id < oldest_kept,
        FeedRun.finished.is_not(None), FeedRun.id.not_in(cited),
        FeedRun.id != (newest_success or -1)))
    return int(gone.rowcount or 0)


def _records(engine: Engine, settings: Settings, stream: Stream, watermark: str | None,
             report: RunReport) -> Iterator[Any]:
    """The stream's raw records after ``watermark``. A stream that maps large files in
    chunks (``read_chunks``) has each chunk stored here, in its own transaction; only the
    rows it left to the row mapper come out."""
    chunks = stream.read_chunks(watermark, plausible_of(settings))
    if chunks is None:
        yield from stream.read(watermark)
        return
    for chunk in chunks:
        if chunk.rows:
            with unit_of_work(engine) as conn:
                report.stored += store_chunk(conn, settings, chunk, report.source)
            report.records_in += chunk.rows
            if chunk.cursor and (report.watermark is None or chunk.cursor > report.watermark):
                report.watermark = chunk.cursor
        yield from chunk.leftovers


def run_source(
    engine: Engine,
    settings: Settings,
    connector: Connector,
    source_id: str,
    location: str = "",
    *,
    full: bool = False,
) -> RunReport:
    """Run ``connector`` once as source ``source_id``; never raises for source problems
    nor for a batch the store refuses (any SQLAlchemyError): the run is marked failed.
    Raises ``SourceBusy`` (before reading anything) while another run of the source is
    in progress anywhere.

    ``full`` ignores the stored watermark and reads everything again (still idempotent).
    """
    started = time.perf_counter()
    # The connector's own location has credentials removed (e.g. mqtt://user:pass@...).
    location = str(getattr(connector.config, "location", "") or location)
    report = RunReport(source=source_id, kind=connector.kind)
    report.run_id = _start(engine, connector, source_id, location)
    watermark = None if full else last_watermark(engine, source_id)
    report.watermark = watermark
    pending = _Pending()
    with _Heartbeat(engine, report.run_id):
        try:
            for stream in connector.streams():
                pending.stream = stream.name
                for raw in _records(engine, settings, stream, watermark, report):
                    if raw is COMMIT_POINT:
                        _commit(engine, settings, pending, report, stream)
                        continue
                    report.records_in += 1
                    try:
                        mapped = stream.map(raw)
                    except BAD_RECORD_ERRORS as error:
                        pending.bad.append((raw, f"{stream.name}: {error}"))
                        continue
                    pending.records.append((raw, mapped))
                    if len(pending.records) + len(pending.bad) >= BATCH_RECORDS:
                        _commit(engine, settings, pending, report, stream)
                _commit(engine, settings, pending, report, stream)
            report.status = "partial" if report.quarantined else "ok"
        except SourceFormatError as error:
            report.status, report.error, report.failure = "failed", str(error), "format"
            if report.stored:  # a file that breaks midway (a corrupt tail): say what stays
                report.error += (f" ({report.stored:,} records read before it were stored "
                                 f"and stay; the watermark did not move, so a run after the "
                                 f"file is fixed reads it all again, storing nothing twice)")
            report.watermark = watermark
            pending.records.clear()
            pending.bad.clear()
        except (OSError, ConnectionError, TimeoutError) as error:
            report.status, report.failure = "failed", "unavailable"
            report.error = f"source unavailable: {error}"
            try:
                _flush(engine, settings, pending, report)  # keep what was read and good
            except SQLAlchemyError as store_error:
                pending.records.clear()
                pending.bad.clear()
                report.error += "; store refused a batch: " + store_error_line(store_error)
            report.watermark = watermark  # the next run reads the missed part again
        except SQLAlchemyError as error:  # this batch rolled back; earlier ones are kept
            pending.records.clear()
            pending.bad.clear()
            report.status, report.failure = "failed", "store"
            report.error = "store refused a batch: " + store_error_line(error)
            report.watermark = watermark
    report.seconds = round(time.perf_counter() - started, 3)
    _finish(engine, report, settings.feed_runs_kept)
    if pending.brought:  # quarantined records that awaited such references are tried again
        _replay_awaited(engine, settings, report)
    if report.stored and settings.redis_url and settings.warm_after_ingest:
        # the web workers share that cache: fill it for them
        warm_default_views(settings)
    return report
