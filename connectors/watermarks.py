"""An operator's view of a source's watermark, and setting it by hand.

The watermark is the cursor of the newest record a source's runs stored; the next run reads
after it. A reset is recorded as a feed run of its own (status ``reset``, nothing read), so
the feed-health page and the run history say who moved it back, when, and from where.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, insert, select

from connectors.runner import watermark_run
from connectors.values import cursor_text, parse_time
from dashboard.model import FeedRun, Source
from dashboard.store import bump_data_version, unit_of_work

BEGINNING = "beginning"  # ``--reset beginning``: the next run reads everything


class UnknownSourceError(LookupError):
    """No source has that id."""


@dataclass(frozen=True)
class Watermark:
    """A source's watermark and the run that set it (None when no run has)."""

    source: str
    value: str | None
    run_id: int | None
    status: str | None
    finished: datetime | None


def watermark_value(text: str) -> str | None:
    """The cursor an operator's ``--reset`` text stands for: an ISO-8601 time (naive is
    UTC) as cursor text, a plain number as given, ``beginning`` as None; else ValueError
    (a time in the future too: the next runs would read nothing)."""
    text = text.strip()
    if text == BEGINNING:
        return None
    try:
        float(text)
        return text
    except ValueError:
        pass
    moment = parse_time(text, "the watermark")
    if moment is None:
        raise ValueError("the watermark is empty: give a time, or 'beginning'")
    if moment > datetime.now(timezone.utc):
        raise ValueError(f"the watermark is in the future: {cursor_text(moment)}")
    return cursor_text(moment)


def _check_source(engine: Engine, source_id: str) -> None:
    with engine.connect() as conn:
        known = conn.execute(select(Source.id).order_by(Source.id)).scalars().all()
    if source_id not in known:
        shown = ", ".join(known[:20]) or "none yet"
        raise UnknownSourceError(f"no source {source_id!r} (known: {shown})")


def current_watermark(engine: Engine, source_id: str) -> Watermark:
    """The watermark the source's next run reads after; UnknownSourceError for a wrong id."""
    _check_source(engine, source_id)
    run = watermark_run(engine, source_id)
    if run is None:
        return Watermark(source_id, None, None, None, None)
    return Watermark(source_id, run.watermark, run.id, run.status, run.finished)


def reset_watermark(engine: Engine, source_id: str, value: str | None) -> Watermark:
    """Set the source's watermark to ``value`` (None: read everything next time), as a
    ``reset`` feed run noting the watermark it replaces. Returns the new watermark."""
    before = current_watermark(engine, source_id)
    now = datetime.now(timezone.utc)
    with unit_of_work(engine) as conn:
        run_id = conn.execute(insert(FeedRun).values(
            source_id=source_id, started=now, finished=now, heartbeat_at=now, status="reset",
            records_in=0, stored=0, quarantined=0, watermark=value,
            error=f"watermark set by an operator to {value or BEGINNING} "
                  f"(was {before.value or 'none'})")).inserted_primary_key
        bump_data_version(conn, {"feeds"})
    return Watermark(source_id, value, int(run_id[0]) if run_id else None, "reset", now)
