"""The city's commitments, kept by staff: projects and pledges with their titles per
language, department, district (or the whole city), budget, planned dates, status,
% complete, milestones and linked KPIs (``dashboard.queries.commitments`` reads them).

- ``save_commitment`` creates or updates one, checked as a whole (``check_commitment``);
  an update may give only what changes (the rest is kept). Staff only; a department head
  only for their own departments (the stored and the new department alike).
- Each change of % complete or status adds a ``commitment_progress`` row (the history
  the public page draws); every save is audited (action ``commitment``) and bumps the
  ``commitments`` data version.
- ``import_commitments`` loads many at once (``citylens commitments import FILE.yaml``).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, select

from dashboard.auth import DEPARTMENT_HEAD, audit
from dashboard.auth.access import STAFF
from dashboard.auth.users import Principal
from dashboard.kpis import load_kpis
from dashboard.model import COMMITMENT_STATUSES, Commitment, CommitmentProgress, District
from dashboard.queries.kiosk import source_language
from dashboard.settings import Settings
from dashboard.store import bump_data_version, get_engine, upsert

SCOPE = "commitments"  # the data version scope of commitments
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,99}$")
MAX_TITLE, MAX_SUMMARY, MAX_NOTE, MAX_MILESTONES = 200, 1000, 300, 30
FIELDS = ("id", "title", "summary", "department", "district_id", "budget_eur", "spent_eur",
          "starts_on", "ends_on", "status", "percent_complete", "kpis", "milestones")


def _texts(value: Any, where: str, source: str, limit: int, required: bool = True
           ) -> dict[str, str]:
    """``{lang: text}`` (a bare string is the ``source`` language's), with a text in
    ``source`` when ``required``."""
    if value is None or value == "":
        value = {}
    if isinstance(value, str):
        value = {source: value}
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: give a text per language, e.g. {{{source}: ...}}")
    texts = {str(lang): " ".join(str(text).split())[:limit]
             for lang, text in value.items() if text is not None and str(text).strip()}
    if required and source not in texts:
        raise ValueError(f"{where}: a text in {source} (the city's language) is required")
    return texts


def _day(value: Any, where: str) -> date:
    """A date from a ``date`` or an ISO ``YYYY-MM-DD`` string."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _euros(value: Any, where: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{where}: an amount of euros, 0 or more")
    return float(value)


def _milestones(raw: Any, source: str) -> list[dict[str, Any]]:
    """Milestones ``{title, due, done_on}``, checked and ordered by due date."""
    if not isinstance(raw, list) or len(raw) > MAX_MILESTONES:
        raise ValueError(f"milestones: a list of at most {MAX_MILESTONES}")
    found = []
    for n, item in enumerate(raw, start=1):
        if not isinstance(item, Mapping):
            raise ValueError(f"milestone {n}: give its title and due date")
        done = item.get("done_on")
        found.append({"title": _texts(item.get("title"), f"milestone {n} title", source,
                                      MAX_TITLE),
                      "due": _day(item.get("due"), f"milestone {n} due").isoformat(),
                      "done_on": _day(done, f"milestone {n} done_on").isoformat()
                      if done else None})
    return sorted(found, key=lambda m: m["due"])


def check_commitment(data: Mapping[str, Any], source: str, kpi_ids: Iterable[str],
                     districts: Iterable[str]) -> dict[str, Any]:
    """A commitment's columns from ``data`` (every field of ``FIELDS``); a one-line
    ValueError for the first thing wrong."""
    cid = str(data.get("id") or "")
    if not SLUG.match(cid):
        raise ValueError(f"id {cid!r}: lower-case letters, digits and - (a slug)")
    department = " ".join(str(data.get("department") or "").split())
    if not department or len(department) > 100:
        raise ValueError("department: the department answering for it is required")
    district = data.get("district_id") or None
    if district is not None and district not in set(districts):
        raise ValueError(f"district {district!r} is not a district of this city")
    starts, ends = _day(data.get("starts_on"), "starts_on"), _day(data.get("ends_on"), "ends_on")
    if ends < starts:
        raise ValueError("ends_on must not come before starts_on")
    status = str(data.get("status") or "")
    if status not in COMMITMENT_STATUSES:
        raise ValueError(f"status {status!r} is not one of {', '.join(COMMITMENT_STATUSES)}")
    percent = data.get("percent_complete", 0)
    if isinstance(percent, bool) or not isinstance(percent, int | float) or \
            not 0 <= percent <= 100:
        raise ValueError("percent_complete: a number from 0 to 100")
    if status == "done" and percent != 100:
        raise ValueError("a commitment that is done is 100 % complete")
    kpis = [str(k) for k in data.get("kpis") or []]
    unknown = sorted(set(kpis) - set(kpi_ids))
    if unknown:
        raise ValueError(f"KPIs not in the KPI catalogue: {', '.join(unknown)}")
    return {"id": cid, "title": _texts(data.get("title"), "title", source, MAX_TITLE),
            "summary": _texts(data.get("summary"), "summary", source, MAX_SUMMARY, False),
            "department": department, "district_id": district,
            "budget_eur": _euros(data.get("budget_eur"), "budget_eur"),
            "spent_eur": _euros(data.get("spent_eur"), "spent_eur"),
            "starts_on": starts, "ends_on": ends, "status": status,
            "percent_complete": float(percent), "kpis": list(dict.fromkeys(kpis)),
            "milestones": _milestones(data.get("milestones") or [], source)}


def _may_keep(who: Principal, *departments: str) -> None:
    """PermissionError unless ``who`` is staff and, as a department head, answers for
    every one of ``departments``."""
    if who.role not in STAFF:
        raise PermissionError("only city staff keep the city's commitments")
    if who.role == DEPARTMENT_HEAD and not set(departments) <= set(who.departments):
        raise PermissionError("a department head keeps only their own departments' "
                              "commitments")


def write_commitment(conn: Connection, who: Principal, data: Mapping[str, Any], now: datetime,
                     source: str, kpi_ids: Iterable[str]) -> str:
    """Check and store ``data`` in the caller's transaction (merged over the stored
    commitment of its id, if any): the row, a progress row when % complete or status
    changed, and an audit entry. Returns the id."""
    stored = conn.execute(select(Commitment.__table__).where(Commitment.id == data.get("id"))
                          ).mappings().first()
    before = {f: stored[f] for f in FIELDS} if stored else {}
    _may_keep(who, *filter(None, [before.get("department")]))
    districts = conn.execute(select(District.id)).scalars().all()
    row = check_commitment({**before, **data}, source, kpi_ids, districts)
    _may_keep(who, row["department"])
    note = " ".join(str(data.get("note") or "").split())
    if len(note) > MAX_NOTE:
        raise ValueError(f"note: at most {MAX_NOTE} characters")
    upsert(conn, Commitment, [{**row, "updated_at": now, "updated_by": who.username}])
    moved = (before.get("percent_complete"), before.get("status")) != \
        (row["percent_complete"], row["status"])
    if moved:
        upsert(conn, CommitmentProgress, [{"commitment_id": row["id"], "at": now,
                                           "percent_complete": row["percent_complete"],
                                           "status": row["status"], "note": note}])
    what = "created" if not before else "updated"
    audit.record(conn, who, "commitment", row["id"],
                 f"{what}: {row['percent_complete']:g} % complete, {row['status']}"
                 + (f" ({note})" if note and moved else ""), now)
    return str(row["id"])


def kpi_ids(settings: Settings) -> set[str]:
    """The ids of the KPI catalogue (``data/kpis.yaml``)."""
    return {k.id for k in load_kpis(settings.kpis_file)}


def save_commitment(settings: Settings, who: Principal, data: dict[str, Any]) -> str:
    """Create or update one commitment (``write_commitment``) at the settings' "now";
    PermissionError or a one-line ValueError, nothing written then."""
    return import_commitments(settings, who, [data])[0]


def import_commitments(settings: Settings, who: Principal,
                       items: Iterable[Mapping[str, Any]]) -> list[str]:
    """Create or update many commitments in one transaction (all or none); the ids."""
    _may_keep(who)
    source, known, now = source_language(settings), kpi_ids(settings), settings.current_time()
    saved: list[str] = []
    with get_engine(settings.resolved_database_url).begin() as conn:
        for n, item in enumerate(items, start=1):
            if not isinstance(item, Mapping):
                raise ValueError(f"commitment {n}: not a mapping of its fields")
            try:
                saved.append(write_commitment(conn, who, item, now, source, known))
            except ValueError as error:
                raise ValueError(f"{item.get('id') or f'commitment {n}'}: {error}") from None
        bump_data_version(conn, {SCOPE})
    return saved


def read_commitments_file(path: Path) -> list[dict[str, Any]]:
    """The commitments of a YAML file (``commitments: [...]``, or a bare list)."""
    with open(path, encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle)
    items = loaded.get("commitments") if isinstance(loaded, dict) else loaded
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a list of commitments under 'commitments:'")
    return items


def mark_milestones(milestones: list[dict[str, Any]], done: Iterable[int],
                    today: date) -> list[dict[str, Any]]:
    """``milestones`` with those at the indexes ``done`` done (on ``today`` unless they
    already were) and the others not done."""
    chosen = set(done)
    return [{**m, "done_on": (m.get("done_on") or today.isoformat()) if i in chosen else None}
            for i, m in enumerate(milestones)]
