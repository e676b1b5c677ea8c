"""Observations partitioned by month on PostgreSQL, and the retention of raw readings.

On PostgreSQL (migration 0009) ``observations`` is range-partitioned on ``time`` (epoch
seconds, UTC) by calendar month: ``observations_2026_12`` holds December 2026 (UTC) and
``observations_default`` whatever falls in a month that has no partition yet (a reading
backfilled from long ago), so no reading is ever refused for want of a partition. The
primary key (asset_pk, metric, time) serves every read of one asset, pruned to the
partitions of its time range; a BRIN index on ``time`` (a few pages per partition) serves
scans of a time range across all assets.

``maintain`` (``citylens db maintain``, daily) creates the partitions ahead of time, moves
the default partition's rows into their month's new partition, and applies the retention
of raw readings: whole partitions older than the horizon are dropped (at once, nothing to
vacuum), while the hour and day rollups, and so every KPI, stay whole. A store that is not
partitioned (SQLite, on one box) deletes its old rows instead.

The horizon reached is kept in ``meta`` (``observations_kept_from``): ingest adjusts a rollup
bucket that begins before it by the change of value, since the raw rows that would
recompute it are gone.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text, update

from dashboard.model import Meta
from dashboard.settings import Settings

PARENT = "observations"
DEFAULT = f"{PARENT}_default"
MONTHLY = re.compile(rf"^{PARENT}_(\d{{4}})_(\d{{2}})$")
TIME_INDEX = "ix_observations_time_brin"
KEPT_FROM = "observations_kept_from"
LOCK_TIMEOUT = "10s"  # DDL on the parent waits at most this long for readers and writers


def month_of(moment: datetime) -> date:
    """The first day of ``moment``'s month in UTC."""
    utc = moment.astimezone(timezone.utc) if moment.tzinfo else moment
    return date(utc.year, utc.month, 1)


def shift(month: date, months: int) -> date:
    """The month ``months`` after (or before, when negative) ``month``."""
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def epoch(month: date) -> int:
    """Epoch second at which ``month`` begins (UTC)."""
    return int(datetime(month.year, month.month, 1, tzinfo=timezone.utc).timestamp())


def partition_name(month: date) -> str:
    """The name of ``month``'s partition, e.g. ``observations_2026_12``."""
    return f"{PARENT}_{month.year:04d}_{month.month:02d}"


def month_named(name: str) -> date | None:
    """The month a partition's name stands for (None: not a monthly partition)."""
    found = MONTHLY.match(name)
    return date(int(found[1]), int(found[2]), 1) if found else None


def belongs_to_model(obj: Any, name: str | None, type_: str, reflected: bool,
                     compare_to: Any) -> bool:
    """Alembic's ``include_object``: the partitions and the BRIN index are made by the
    migration and ``maintain``, not by the models; comparing leaves them out."""
    if type_ == "table" and reflected and compare_to is None and name is not None:
        return not (name == DEFAULT or MONTHLY.match(name))
    return not (type_ == "index" and name == TIME_INDEX)


def is_partitioned(conn: Connection) -> bool:
    """Whether the store's ``observations`` is a partitioned table (PostgreSQL, 0009 on)."""
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table "
                                  "WHERE partrelid = to_regclass(:parent))"),
                             {"parent": PARENT}).scalar())


def partition_months(conn: Connection) -> list[date]:
    """The months that have their own partition, oldest first."""
    names = conn.execute(text("SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                              "ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:parent)"),
                         {"parent": PARENT}).scalars()
    return sorted(month for month in map(month_named, names) if month is not None)


def months_in_default(conn: Connection) -> list[date]:
    """The months of the rows in the default partition (rows awaiting their partition)."""
    found = conn.execute(text(
        "SELECT DISTINCT CAST(date_trunc('month', to_timestamp(time) AT TIME ZONE 'UTC') "
        f"AS DATE) FROM {DEFAULT}")).scalars()
    return sorted(found)


def add_partition(conn: Connection, month: date) -> int:
    """Create ``month``'s partition, moving its rows out of the default partition; returns
    how many rows moved."""
    name, low, high = partition_name(month), epoch(month), epoch(shift(month, 1))
    bounds = f"FOR VALUES FROM ({low}) TO ({high})"
    waiting = conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {DEFAULT} WHERE time >= :low "
                                "AND time < :high)"), {"low": low, "high": high}).scalar()
    if not waiting:
        conn.execute(text(f"CREATE TABLE {name} PARTITION OF {PARENT} {bounds}"))
        return 0
    conn.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)"))
    moved = conn.execute(text(
        f"WITH gone AS (DELETE FROM {DEFAULT} WHERE time >= :low AND time < :high "
        f"RETURNING asset_pk, metric, time, value, unit) INSERT INTO {name} "
        "(asset_pk, metric, time, value, unit) SELECT * FROM gone"),
        {"low": low, "high": high}).rowcount
    conn.execute(text(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} {bounds}"))
    return int(moved)


def partition_span(conn: Connection, first: datetime, last: datetime) -> list[str]:
    """Make the partitions of every month from ``first`` to ``last`` that are missing (a
    backfill of history, the demo city's year, goes straight to its months); returns their
    names. Nothing on a store that is not partitioned."""
    if not is_partitioned(conn):
        return []
    have, month, made = set(partition_months(conn)), month_of(first), []
    while month <= month_of(last):
        if month not in have:
            add_partition(conn, month)
            made.append(partition_name(month))
        month = shift(month, 1)
    return made


def kept_from(conn: Connection) -> int:
    """Epoch second before which raw readings have been dropped (0: none ever were)."""
    value = conn.execute(select(Meta.value).where(Meta.key == KEPT_FROM)).scalar()
    return int(value) if value else 0


def _record_kept_from(conn: Connection, horizon: int) -> None:
    if horizon <= kept_from(conn):
        return
    if conn.execute(select(Meta.key).where(Meta.key == KEPT_FROM)).first():
        conn.execute(update(Meta).where(Meta.key == KEPT_FROM).values(value=str(horizon)))
    else:
        conn.execute(insert(Meta).values(key=KEPT_FROM, value=str(horizon)))


@dataclass
class Maintenance:
    """What one ``maintain`` did."""

    partitioned: bool
    created: list[str] = field(default_factory=list)
    moved: int = 0  # rows moved out of the default partition
    dropped: list[tuple[str, int]] = field(default_factory=list)  # partition, bytes freed
    deleted: int = 0  # rows deleted (the default partition, or an unpartitioned store)
    horizon: int | None = None  # raw readings before this epoch second are gone

    def lines(self) -> list[str]:
        """One line per thing done, for the command line and the logs."""
        said = [f"created partition {name}" for name in self.created]
        if self.moved:
            said.append(f"moved {self.moved:,} readings out of {DEFAULT} into their month")
        said += [f"dropped partition {name} ({size / 2**20:,.1f} MiB)"
                 for name, size in self.dropped]
        if self.deleted:
            said.append(f"deleted {self.deleted:,} readings older than the retention")
        if self.horizon is not None:
            kept = datetime.fromtimestamp(self.horizon, timezone.utc)
            said.append(f"raw readings kept from {kept:%Y-%m-%d} (UTC); rollups kept whole")
        return said or ["nothing to do"]


def retention_horizon(now: datetime, retention_months: int) -> int | None:
    """Epoch second before which raw readings are not kept (None: kept for ever)."""
    if not retention_months:
        return None
    return epoch(shift(month_of(now), -retention_months))


def maintain(conn: Connection, now: datetime, *, ahead_months: int,
             retention_months: int) -> Maintenance:
    """Partitions ahead, the default partition emptied into its months, and the retention
    applied, in the caller's transaction (one maintainer at a time on PostgreSQL)."""
    horizon = retention_horizon(now, retention_months)
    done = Maintenance(partitioned=is_partitioned(conn), horizon=horizon)
    if done.partitioned:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('citylens-maintain'))"))
        conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        _partition_ahead(conn, month_of(now), ahead_months, horizon, done)
    if horizon is not None:
        _drop_before(conn, horizon, done)
        _record_kept_from(conn, horizon)
    return done


def _partition_ahead(conn: Connection, current: date, ahead_months: int,
                     horizon: int | None, done: Maintenance) -> None:
    have = set(partition_months(conn))
    wanted = {shift(current, n) for n in range(ahead_months + 1)}
    wanted |= {m for m in months_in_default(conn) if horizon is None or epoch(m) >= horizon}
    for month in sorted(wanted - have):
        done.moved += add_partition(conn, month)
        done.created.append(partition_name(month))


def _drop_before(conn: Connection, horizon: int, done: Maintenance) -> None:
    if not done.partitioned:
        done.deleted += conn.execute(text(f"DELETE FROM {PARENT} WHERE time < :horizon"),
                                     {"horizon": horizon}).rowcount
        return
    for month in partition_months(conn):
        if epoch(shift(month, 1)) <= horizon:
            name = partition_name(month)
            size = conn.execute(text("SELECT pg_total_relation_size(to_regclass(:name))"),
                                {"name": name}).scalar()
            conn.execute(text(f"DROP TABLE {name}"))
            done.dropped.append((name, int(size or 0)))
    done.deleted += conn.execute(text(f"DELETE FROM {DEFAULT} WHERE time < :horizon"),
                                 {"horizon": horizon}).rowcount


def maintain_store(engine: Engine, settings: Settings) -> Maintenance:
    """``maintain`` with the settings' "now", partitions ahead and retention, committed."""
    with engine.begin() as conn:
        return maintain(conn, settings.current_time(),
                        ahead_months=settings.partitions_ahead_months,
                        retention_months=settings.raw_retention_months)
