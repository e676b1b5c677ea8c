"""A service request posted to the Open311 server (``POST requests.{fmt}``), read and checked
against the standard and the service's attribute definitions, and turned into the unified
model's rows: the request (its channel, a new id and token, moderation pending) and, when
the resident left a contact, their citizen record (Citizen 360), whose id is derived from
the contact so that one resident's reports meet on one timeline.

Every refusal is a ``ValueError`` of one line, which the server answers as the standard's
400. Storing goes through the connectors' validation (district, plausible times,
references): the composition root hands the server that function (``StorePosted``).
"""
from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dashboard.queries.duplicates import SUSPECTED
from dashboard.settings import Settings

PENDING = "pending"
MAX_TEXT = {"description": 4000, "address_string": 300, "first_name": 100, "last_name": 100,
            "email": 200, "phone": 40, "device_id": 100, "account_id": 100, "media_url": 500}
ATTRIBUTE = re.compile(r"^attribute\[([^\]]{1,100})\](\[\])?$")
EMAIL = re.compile(r"^[^@\s]{1,100}@[^@\s]{1,100}\.[^@\s]{1,20}$")
CHOICES = ("singlevaluelist", "multivaluelist")

Rows = dict[str, list[dict[str, Any]]]
# Stores the rows through the connectors' validation; the refusal, or None once stored.
StorePosted = Callable[[Settings, Rows], str | None]


@dataclass(frozen=True)
class Submission:
    """What a POST asked for, checked field by field."""

    service_code: str
    lat: float | None
    lon: float | None
    address: str
    description: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    device_id: str = ""
    account_id: str = ""
    media_url: str = ""
    answers: dict[str, list[str]] = field(default_factory=dict)


def _text(form: Mapping[str, Any], name: str) -> str:
    value = str(form.get(name) or "").strip()
    if len(value) > MAX_TEXT.get(name, 200):
        raise ValueError(f"{name}: at most {MAX_TEXT.get(name, 200)} characters")
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value):
        raise ValueError(f"{name}: control characters are not allowed")
    return value


def _coordinate(form: Mapping[str, Any], name: str, bound: float) -> float | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}: {raw[:40]!r} is not a number") from None
    if not math.isfinite(value) or abs(value) > bound:
        raise ValueError(f"{name}: {raw[:40]!r} is not a {name} in degrees")
    return value


def _answers(form: Any) -> dict[str, list[str]]:
    """``attribute[CODE]=value`` (and ``attribute[CODE][]`` for several) -> {CODE: values}."""
    answers: dict[str, list[str]] = {}
    for name in form:
        found = ATTRIBUTE.match(str(name))
        if found:
            values = form.getlist(name) if hasattr(form, "getlist") else [form[name]]
            answers.setdefault(found[1], []).extend(str(v)[:500] for v in values if str(v))
    return answers


def parse_submission(form: Any) -> Submission:
    """The POST's fields (a form's ``MultiDict``); ValueError for the first that is wrong."""
    code = _text(form, "service_code")
    if not code:
        raise ValueError("service_code is required")
    lat, lon = _coordinate(form, "lat", 90), _coordinate(form, "long", 180)
    address = _text(form, "address_string") or _text(form, "address_id")
    if (lat is None) != (lon is None):
        raise ValueError("lat and long go together")
    if lat is None and not address:
        raise ValueError("a location is required: lat and long, address_string or address_id")
    email = _text(form, "email")
    if email and not EMAIL.match(email):
        raise ValueError(f"email: {email[:60]!r} is not an e-mail address")
    media = _text(form, "media_url")
    if media and not media.startswith("https://"):
        raise ValueError("media_url: an https:// address")
    return Submission(service_code=code, lat=lat, lon=lon, address=address,
                      description=_text(form, "description"),
                      first_name=_text(form, "first_name"), last_name=_text(form, "last_name"),
                      email=email, phone=_text(form, "phone"),
                      device_id=_text(form, "device_id"), account_id=_text(form, "account_id"),
                      media_url=media, answers=_answers(form))


def check_answers(definitions: Sequence[Mapping[str, Any]],
                  answers: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The answers to the service's attributes, checked against their definitions: every
    required one given, list answers among their keys, numbers numeric; unknown codes
    refused."""
    by_code = {str(d.get("code")): d for d in definitions}
    unknown = sorted(set(answers) - set(by_code))
    if unknown:
        raise ValueError(f"attribute[{unknown[0]}]: this service has no such attribute")
    for code, definition in by_code.items():
        given = answers.get(code, [])
        datatype = str(definition.get("datatype", "string"))
        if not given:
            if definition.get("required") and definition.get("variable", True):
                raise ValueError(f"attribute[{code}] is required")
            continue
        if datatype in CHOICES:
            keys = {str(v.get("key")) for v in definition.get("values") or []}
            wrong = [v for v in given if v not in keys]
            if wrong:
                raise ValueError(f"attribute[{code}]: {wrong[0][:40]!r} is not one of "
                                 f"{', '.join(sorted(keys))}")
            if datatype == "singlevaluelist" and len(given) > 1:
                raise ValueError(f"attribute[{code}]: one value only")
        elif datatype == "number":
            try:
                [float(v) for v in given]
            except ValueError:
                raise ValueError(f"attribute[{code}]: a number") from None
    return {code: values for code, values in answers.items() if values}


def citizen_id_for(email: str, phone: str) -> str | None:
    """The pseudonymous id of the resident behind a contact (None: no contact left)."""
    digits = "".join(c for c in phone if c.isdigit())
    contact = email.casefold() or digits
    if not contact:
        return None
    return "o311-" + hashlib.sha256(contact.encode("utf-8")).hexdigest()[:24]


def new_request_id(now: datetime) -> str:
    """A request id that says when it was posted and cannot be guessed."""
    return f"CL-{now:%Y%m%d}-{secrets.token_hex(4).upper()}"


def request_rows(submission: Submission, service: Mapping[str, Any], answers: dict[str, Any],
                 now: datetime, channel: str, repeats: str | None = None) -> Rows:
    """The unified model's rows of a checked submission of ``service`` (code, name,
    department, group, sla_hours): the request (marked as possibly repeating the open
    request ``repeats``), and its resident when they left a contact."""
    resident = citizen_id_for(submission.email, submission.phone)
    sla = service.get("sla_hours")
    request = {
        "id": new_request_id(now), "token": secrets.token_urlsafe(18),
        "service_code": submission.service_code, "service_name": service["service_name"],
        "department": service["department"], "description": submission.description,
        "status": "open", "status_notes": "", "channel": channel, "requested_at": now,
        "updated_at": now, "expected_at": now + timedelta(hours=float(sla)) if sla else None,
        "lat": submission.lat, "lon": submission.lon, "address": submission.address,
        "citizen_id": resident, "moderation": PENDING, "attributes": answers or None,
        "duplicate_of": repeats, "duplicate_state": SUSPECTED if repeats else None,
    }
    rows: Rows = {"service_requests": [request]}
    if resident:
        name = " ".join(p for p in (submission.first_name, submission.last_name) if p)
        rows["citizens"] = [{"id": resident, "name": name or "(no name given)",
                             "email": submission.email or None,
                             "phone": submission.phone or None}]
    return rows
