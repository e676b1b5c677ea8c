"""References of a batch's records to citizens and districts, checked before any write.

A record whose rows name a citizen or a district that is neither in the store nor among
the batch's own records is refused with its reason ("unknown citizen 'C-17'"), so the runner
quarantines that record and stores the rest; the foreign keys would otherwise fail the
whole batch (PostgreSQL) or the upsert (SQLite with ``foreign_keys=ON``).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import InstrumentedAttribute

from connectors.base import Mapped
from dashboard.model import Citizen, District

Record = tuple[Mapping[str, Any], Mapped]
CITIZEN_REFS = ("service_requests", "cases", "participation")
DISTRICT_REFS = ("assets", "service_requests", "citizens", "cases", "participation", "notices")
CHUNK = 10_000


class MissingReference(str):
    """A refusal reason naming a reference the store does not hold (yet): its ``kind``
    (citizen, district or asset) and the first missing ``ref``, so that the quarantined
    record is replayed once a later run brings it."""

    kind: str
    ref: str

    def __new__(cls, reason: str, kind: str, ref: str) -> MissingReference:
        made = super().__new__(cls, reason)
        made.kind, made.ref = kind, ref
        return made


def refusal_fields(reason: str) -> dict[str, str | None]:
    """How a refused record's reason is kept in quarantine: the text (at most 2,000
    characters) and, for a missing reference, its kind and id (at most 200 characters)."""
    ref = getattr(reason, "ref", None)
    return {"reason": str(reason)[:2000], "missing": getattr(reason, "kind", None),
            "missing_ref": ref[:200] if ref else None}


def rows_with_ids(conn: Connection, key: Any, ids: Iterable[str], *columns: Any
                  ) -> Iterator[Any]:
    """``columns`` of the rows whose ``key`` column is one of ``ids``, selected ``CHUNK``
    ids at a time (a database binds only so many parameters at once)."""
    stmt = select(*columns).where(key.in_(bindparam("ids", expanding=True)))
    listed = sorted(set(ids))
    for start in range(0, len(listed), CHUNK):
        yield from conn.execute(stmt, {"ids": listed[start:start + CHUNK]})


def _existing(conn: Connection, column: InstrumentedAttribute[str], ids: set[str]) -> set[str]:
    """Those of ``ids`` that the store holds in ``column``."""
    return {row[0] for row in rows_with_ids(conn, column, ids, column)}


def _named(records: Iterable[Record], entities: Sequence[str], field: str) -> set[str]:
    return {row[field] for _, mapped in records for entity in entities
            for row in getattr(mapped, entity) if row.get(field)}


def _refuse(
    records: Sequence[Record], entities: Sequence[str], field: str, what: str, known: set[str]
) -> tuple[list[Record], list[tuple[Any, str]]]:
    """Split ``records`` into those whose ``field`` values are all ``known`` and the others."""
    good: list[Record] = []
    refused: list[tuple[Any, str]] = []
    for raw, mapped in records:
        reason = None
        for entity in entities:
            unknown = sorted({row[field] for row in getattr(mapped, entity)
                              if row.get(field)} - known)
            if unknown:
                more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
                reason = MissingReference(f"{entity}: unknown {what} {unknown[0]!r}{more}",
                                          what, unknown[0])
                break
        if reason:
            refused.append((raw, reason))
        else:
            good.append((raw, mapped))
    return good, refused


def check_references(
    conn: Connection, records: Sequence[Record]
) -> tuple[list[Record], list[tuple[Any, str]]]:
    """The records whose district and citizen ids exist (in the store or in the batch), and
    the refused ones with their reasons. Districts are checked first, so a citizen refused
    for its district does not vouch for the records that name it."""
    districts = _existing(conn, District.id, _named(records, DISTRICT_REFS, "district_id"))
    districts |= {row["id"] for _, mapped in records for row in mapped.districts}
    good, refused = _refuse(records, DISTRICT_REFS, "district_id", "district", districts)
    citizens = _existing(conn, Citizen.id, _named(good, CITIZEN_REFS, "citizen_id"))
    citizens |= {row["id"] for _, mapped in good for row in mapped.citizens}
    good, unknown = _refuse(good, CITIZEN_REFS, "citizen_id", "citizen", citizens)
    return good, refused + unknown
