"""Citizen 360: find a citizen and read one citizen's profile with one timeline of every
interaction (service requests, cases, participation).

Access (DESIGN.md, "Roles"): only ``READERS`` (department heads and officials). A
department head only finds and opens citizens with at least one request or case in one of
their departments, sees only those requests and cases, and no participation (it belongs to
no department). Unknown citizens and citizens out of scope get the same ``NotFound``, so
nobody can probe for existence. ``open_profile`` and ``run_search`` write the audit entry
and read in one transaction: a read that succeeds always has its entry; one that fails
writes nothing. Nothing here is cached (personal data; every read is audited).

Search matches on ``citizens.search_text`` (``dashboard.model.citizen_search_key``, filled
at ingest) with one LIKE per word in SQL; the citizens table never comes into Python. A
search is answered a page at a time (``PAGE_SIZE`` rows, LIMIT/OFFSET in a total order) with
the number of all matches counted in SQL.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import Connection, Engine, and_, case, exists, false, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from dashboard.auth import DEPARTMENT_HEAD, audit
from dashboard.auth.access import CITIZEN_READERS
from dashboard.auth.users import Principal
from dashboard.model import (
    Case,
    Citizen,
    District,
    Participation,
    ServiceRequest,
    normalise_text,
)

READERS: tuple[str, ...] = CITIZEN_READERS
MIN_QUERY = 2
MAX_QUERY = 200  # a longer search is refused before it reaches SQL (one LIKE per word)
MAX_REASON = 500  # the reason that goes to the audit log
MAX_LIMIT = 100
PAGE_SIZE = 20  # residents on one page of search results
NATIONAL_DIGITS = 9  # a number given with its country code also matches its last 9 digits
MASK = "•••"
EXPORT_FIELDS: tuple[str, ...] = (
    "citizen_id", "kind", "id", "title", "department", "status", "open", "outcome",
    "channel", "district_id", "started", "ended", "days_open", "description")
SR = ServiceRequest


class NotFound(LookupError):
    """No such citizen, or not one of your records."""

    def __init__(self, message: str = "no such citizen, or not one of your records") -> None:
        super().__init__(message)


def normalise(text: str) -> str:
    """Lower case ASCII without accents, single-spaced (as ``search_text`` is stored)."""
    return normalise_text(text)


# --- access ------------------------------------------------------------------------------

def _check_reader(who: Principal) -> None:
    """PermissionError unless ``who`` may read citizen records."""
    if who.role not in READERS:
        raise PermissionError("Citizen 360 is for department heads and officials")
    if who.role == DEPARTMENT_HEAD and not who.departments:
        raise PermissionError("this department head is bound to no department")


def _head_departments(who: Principal) -> list[str] | None:
    """The departments a department head is limited to; None (everything) for others."""
    return sorted(who.departments) if who.role == DEPARTMENT_HEAD else None


def _in_scope(departments: list[str] | None) -> ColumnElement[bool] | None:
    """SQL: the citizen has a request or case in ``departments`` (None: no condition)."""
    if departments is None:
        return None
    requests = exists().where(SR.citizen_id == Citizen.id, SR.department.in_(departments))
    cases = exists().where(Case.citizen_id == Citizen.id, Case.department.in_(departments))
    return or_(requests, cases)


# --- search ------------------------------------------------------------------------------

def _digits(text: str) -> str:
    return "".join(c for c in text if "0" <= c <= "9")


def _is_phone(text: str) -> bool:
    """Mostly digits (spaces, '+', '-', brackets aside): a phone number."""
    compact = "".join(text.split())
    return len(_digits(compact)) >= 3 and len(_digits(compact)) * 3 >= len(compact) * 2


def _text_match(text: str) -> ColumnElement[bool]:
    """SQL: ``search_text`` holds the phone's digits, or every word (LIKE, escaped)."""
    column = Citizen.search_text
    if _is_phone(text):
        digits = _digits(text)
        found = column.contains(digits, autoescape=True)
        if len(digits) > NATIONAL_DIGITS:
            found = or_(found, column.contains(digits[-NATIONAL_DIGITS:], autoescape=True))
        return found
    words = normalise(text).split()
    if not words:  # nothing searchable left (e.g. only non-Latin letters)
        return false()
    return and_(*(column.contains(word, autoescape=True) for word in words))


def mask_email(email: str) -> str:
    """``maria@example.org`` -> ``m•••@example.org``."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}{MASK}@{domain}" if domain else f"{local[:1]}{MASK}"


def mask_phone(phone: str) -> str:
    """``+34 942 123 456`` -> ``••• ••• 456`` (only the last three digits)."""
    return f"{MASK} {MASK} {_digits(phone)[-3:]}"


def masked_contact(email: str | None, phone: str | None) -> str:
    """The e-mail, else the phone, masked; "" without either."""
    if email:
        return mask_email(email)
    return mask_phone(phone) if phone and _digits(phone) else ""


class SearchPage(TypedDict):
    """One page of a search: the residents from ``offset`` on, and how many match in all."""

    query: str
    total: int
    offset: int
    limit: int
    matches: list[dict[str, Any]]


def _matching(who: Principal, text: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(the exact-id condition, every condition of a match incl. a head's scope) for
    ``text``. PermissionError unless a reader; ValueError for under 2 or over 200 characters."""
    _check_reader(who)
    text = (text or "").strip()
    if len(text) < MIN_QUERY:
        raise ValueError(f"type at least {MIN_QUERY} characters to search")
    if len(text) > MAX_QUERY:
        raise ValueError(f"a search can be at most {MAX_QUERY} characters long")
    exact = func.lower(Citizen.id) == text.lower()
    found = or_(exact, _text_match(text))
    scope = _in_scope(_head_departments(who))
    return exact, found if scope is None else and_(found, scope)


def count_matches(conn: Connection, who: Principal, text: str) -> int:
    """How many citizens ``who`` may see match ``text`` (counted in SQL)."""
    _exact, found = _matching(who, text)
    return int(conn.execute(select(func.count()).select_from(Citizen).where(found))
               .scalar_one())


def search(conn: Connection, who: Principal, text: str, limit: int = PAGE_SIZE,
           offset: int = 0) -> list[dict[str, Any]]:
    """Citizens matching ``text`` (exact id first, then by folded name, then id: a total
    order, so pages never overlap), ``limit`` of them from ``offset``, each with a masked
    contact. PermissionError unless a reader; ValueError for under 2 or over 200 characters."""
    exact, found = _matching(who, text)
    stmt = (
        select(Citizen.id, Citizen.name, Citizen.email, Citizen.phone, Citizen.district_id,
               District.name.label("district_name"))
        .outerjoin(District, District.id == Citizen.district_id)
        .where(found)
        .order_by(case((exact, 0), else_=1), Citizen.search_text, Citizen.id)
        .limit(max(1, min(int(limit), MAX_LIMIT))).offset(max(0, int(offset))))
    return [{"id": r.id, "name": r.name, "district_id": r.district_id,
             "district_name": r.district_name, "contact": masked_contact(r.email, r.phone)}
            for r in conn.execute(stmt)]


def page_start(offset: Any, total: int, limit: int = PAGE_SIZE) -> int:
    """``offset`` as the first row of a page that exists: a whole page from the start,
    the last page when past the end (0 without matches), 0 for anything not a number."""
    try:
        first = max(0, int(offset))
    except (TypeError, ValueError, OverflowError):
        return 0
    first = min(first, max(total - 1, 0))
    return first - first % limit


def search_page(conn: Connection, who: Principal, text: str, offset: int = 0,
                limit: int = PAGE_SIZE) -> SearchPage:
    """The page of ``search`` that starts at ``offset`` (see ``page_start``) and the count
    of every match."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    total = count_matches(conn, who, text)
    first = page_start(offset, total, limit)
    matches = search(conn, who, text, limit, first) if total else []
    return {"query": (text or "").strip(), "total": total, "offset": first, "limit": limit,
            "matches": matches}


# --- profile -----------------------------------------------------------------------------

def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _days(started: datetime | None, ended: datetime | None) -> float | None:
    if started is None or ended is None:
        return None
    return round((ended - started).total_seconds() / 86400, 2)


def _item(kind: str, item_id: str, title: str, department: str | None, status: str,
          outcome: str | None, channel: str | None, district_id: str | None,
          started: datetime, ended: datetime | None,
          description: str | None = None) -> dict[str, Any]:
    """One timeline entry, the same shape for every source."""
    is_open = status == "open"
    return {"kind": kind, "id": item_id, "title": title, "department": department,
            "status": status, "open": is_open, "outcome": outcome, "channel": channel,
            "district_id": district_id, "started": _iso(started), "ended": _iso(ended),
            "days_open": None if is_open else _days(started, ended),
            "description": description}


def _requests(conn: Connection, citizen_id: str,
              departments: list[str] | None) -> list[dict[str, Any]]:
    stmt = select(SR.id, SR.service_name, SR.service_code, SR.department, SR.status,
                  SR.status_notes, SR.channel, SR.district_id, SR.requested_at, SR.closed_at,
                  SR.description).where(SR.citizen_id == citizen_id)
    if departments is not None:
        stmt = stmt.where(SR.department.in_(departments))
    return [_item("request", r.id, r.service_name or r.service_code, r.department, r.status,
                  r.status_notes or None, r.channel, r.district_id, r.requested_at,
                  None if r.status == "open" else r.closed_at, r.description or None)
            for r in conn.execute(stmt)]


def _cases(conn: Connection, citizen_id: str,
           departments: list[str] | None) -> list[dict[str, Any]]:
    stmt = select(Case.id, Case.kind, Case.department, Case.status, Case.channel,
                  Case.district_id, Case.opened_at, Case.closed_at
                  ).where(Case.citizen_id == citizen_id)
    if departments is not None:
        stmt = stmt.where(Case.department.in_(departments))
    return [_item("case", r.id, r.kind.replace("_", " ").capitalize(), r.department, r.status,
                  None if r.status == "open" else r.status, r.channel, r.district_id,
                  r.opened_at, None if r.status == "open" else r.closed_at)
            for r in conn.execute(stmt)]


def _participation(conn: Connection, citizen_id: str) -> list[dict[str, Any]]:
    """Acts of participation: instants, so they end when they start (no days open)."""
    stmt = select(Participation.id, Participation.kind, Participation.topic,
                  Participation.channel, Participation.district_id, Participation.time
                  ).where(Participation.citizen_id == citizen_id)
    items = []
    for r in conn.execute(stmt):
        item = _item("participation", r.id, f"{r.kind.capitalize()}: {r.topic}", None,
                     "took part", None, r.channel, r.district_id, r.time, r.time)
        item["days_open"] = None
        items.append(item)
    return items


def order_timeline(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Open items first, oldest first (they are waiting); then the rest, newest first."""
    items = list(items)
    waiting = sorted((i for i in items if i["open"]), key=lambda i: (i["started"], i["id"]))
    done = sorted((i for i in items if not i["open"]), key=lambda i: (i["started"], i["id"]),
                  reverse=True)
    return waiting + done


def _citizen(conn: Connection, citizen_id: str,
             departments: list[str] | None) -> dict[str, Any]:
    """The citizen's own fields; NotFound when unknown or out of scope."""
    stmt = (select(Citizen.id, Citizen.name, Citizen.email, Citizen.phone, Citizen.district_id,
                   District.name.label("district_name"), Citizen.birth_year, Citizen.consent)
            .outerjoin(District, District.id == Citizen.district_id)
            .where(Citizen.id == citizen_id))
    scope = _in_scope(departments)
    if scope is not None:
        stmt = stmt.where(scope)
    row = conn.execute(stmt).first()
    if row is None:
        raise NotFound()
    consent = {str(k): bool(v) for k, v in (row.consent or {}).items()}
    return {"id": row.id, "name": row.name, "email": row.email, "phone": row.phone,
            "district_id": row.district_id, "district_name": row.district_name,
            "birth_year": row.birth_year, "consent": consent}


def _counts(timeline: list[dict[str, Any]]) -> dict[str, int]:
    kinds = [i["kind"] for i in timeline]
    return {"open": sum(i["open"] for i in timeline), "total": len(timeline),
            "requests": kinds.count("request"), "cases": kinds.count("case"),
            "participation": kinds.count("participation")}


def profile(conn: Connection, who: Principal, citizen_id: str) -> dict[str, Any]:
    """One citizen's record and timeline, as far as ``who`` may see it. PermissionError
    unless a reader; NotFound for an unknown citizen or one out of a head's scope."""
    _check_reader(who)
    departments = _head_departments(who)
    citizen = _citizen(conn, (citizen_id or "").strip(), departments)
    items = _requests(conn, citizen["id"], departments) + _cases(conn, citizen["id"], departments)
    hidden = departments is not None
    if not hidden:
        items += _participation(conn, citizen["id"])
    timeline = order_timeline(items)
    return {"citizen": citizen, "timeline": timeline, "counts": _counts(timeline),
            "departments": sorted({i["department"] for i in timeline if i["department"]}),
            "scope": "all" if departments is None else departments,
            "participation_hidden": hidden}


# --- audited reads -----------------------------------------------------------------------

def _check_reason(reason: str | None) -> None:
    """ValueError for a reason longer than ``MAX_REASON`` (the audit checks the minimum)."""
    if len((reason or "").strip()) > MAX_REASON:
        raise ValueError(f"a reason can be at most {MAX_REASON} characters long")


def open_profile(engine: Engine, who: Principal, citizen_id: str, reason: str, now: datetime,
                 *, action: str = "view_profile") -> dict[str, Any]:
    """Read a profile and write its audit entry in one transaction (``action``
    "export_profile" for exports). PermissionError, ValueError (reason missing or over
    ``MAX_REASON``) or NotFound leave nothing written."""
    _check_reader(who)
    _check_reason(reason)
    with engine.begin() as conn:
        # the entry goes first (it validates the reason); a failed read rolls it back
        audit.record(conn, who, action, (citizen_id or "").strip(), reason, now)
        return profile(conn, who, citizen_id)


def run_search(engine: Engine, who: Principal, text: str, reason: str, now: datetime,
               offset: int = 0, limit: int = PAGE_SIZE) -> SearchPage:
    """``search_page`` audited as action "search" (subject ``search:<text>``; every page
    read is an entry), one transaction; a refused search (ValueError: too short or long,
    or the reason) writes nothing."""
    _check_reader(who)
    _check_reason(reason)
    subject = f"search:{(text or '').strip()}"[:200]
    with engine.begin() as conn:
        audit.record(conn, who, "search", subject, reason, now)
        return search_page(conn, who, text, offset, limit)


def export_rows(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per timeline item (``EXPORT_FIELDS``, citizen id first), for a CSV."""
    citizen_id = profile["citizen"]["id"]
    return [{"citizen_id": citizen_id, **{f: item.get(f) for f in EXPORT_FIELDS[1:]}}
            for item in profile["timeline"]]
