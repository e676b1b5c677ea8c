"""Parsing and mapping for Open311 GeoReport v2: payloads (JSON or XML) to raw records,
raw records to the unified model. No I/O here; ``connectors.open311`` fetches.
"""
from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import tzinfo
from typing import Any, Literal
from xml.etree.ElementTree import Element, ParseError

from defusedxml.common import DTDForbidden
from defusedxml.ElementTree import iterparse

from connectors.base import SourceFormatError
from connectors.common import load_json
from connectors.common import one_line as _one_line
from connectors.values import coordinate, cursor_text, parse_time
from dashboard.model import DOMAINS

MAX_XML_DEPTH = 64
"""How deep an XML payload may nest elements (GeoReport v2 needs 3 or 4): a deeper one is
refused while it is parsed, before the tree below that depth is built or walked."""
Format = Literal["auto", "json", "xml"]
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
WRAPPERS = ("service_requests", "requests", "services")
LIMITS = {"service_name": 200, "department": 100, "address": 300, "channel": 20, "group": 100}


def detect_format(data: bytes, fmt: Format, hint: str = "") -> Literal["json", "xml"]:
    """The payload's format: as configured, else sniffed from its first byte, else the hint."""
    if fmt != "auto":
        return fmt
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<":
        return "xml"
    if head in (b"[", b"{"):
        return "json"
    return "xml" if "xml" in hint.lower() else "json"


def parse_payload(data: bytes, fmt: Format, origin: str, hint: str = "") -> list[Any]:
    """Raw records of a whole requests or services payload; SourceFormatError if unparseable."""
    kind = detect_format(data, fmt, hint or origin)
    if kind == "xml":
        return _parse_xml(data, origin)
    doc = load_json(data, origin)
    if isinstance(doc, dict):
        for key in WRAPPERS:
            records = doc.get(key)
            if isinstance(records, list):
                return records
        if "service_request_id" in doc or "service_code" in doc:
            return [doc]
        raise SourceFormatError(f"{origin}: JSON object holds no list of requests or services")
    if not isinstance(doc, list):
        raise SourceFormatError(f"{origin}: JSON is a {type(doc).__name__}, not a list of records")
    return doc


def _parse_xml(data: bytes, origin: str) -> list[Any]:
    root = parse_xml(data, origin)
    tag = _local(root.tag)
    if tag == "errors":
        text = "; ".join(" ".join(e.itertext()).strip() for e in root)
        raise SourceFormatError(f"{origin}: the server answered with errors: {_one_line(text)}")
    if tag in ("request", "service"):
        return [_element_record(root)]
    return [_element_record(child) for child in root]


def parse_xml(data: bytes, origin: str) -> Element:
    """The root element of an untrusted XML payload, parsed with defusedxml and no DTD
    allowed (so no entity declarations nor external references), at most
    ``MAX_XML_DEPTH`` deep; else a one-line SourceFormatError naming ``origin``."""
    try:
        return _bounded_root(data, origin)
    except DTDForbidden:
        problem = "a DTD (<!DOCTYPE ...>) is not allowed"
    except SourceFormatError:
        raise
    except (ParseError, ValueError, LookupError, RecursionError) as error:
        problem = _one_line(error)
    raise SourceFormatError(f"{origin}: not valid XML: {problem}")


def _bounded_root(data: bytes, origin: str) -> Element:
    """Parse while counting depth; stop at the first element deeper than the limit."""
    depth = 0
    root: Element | None = None
    events = iterparse(io.BytesIO(data), events=("start", "end"), forbid_dtd=True)
    for event, element in events:
        if event == "end":
            depth -= 1
            root = element
            continue
        depth += 1
        if depth > MAX_XML_DEPTH:
            raise SourceFormatError(
                f"{origin}: not valid XML: nested deeper than {MAX_XML_DEPTH} levels")
    if root is None:  # pragma: no cover - the parser refuses a document without elements
        raise ParseError("no element found")
    return root


def _element_record(element: Element) -> dict[str, Any]:
    """A record element as a dict: xsi:nil and empty elements become None."""
    record: dict[str, Any] = {}
    for child in element:
        key = _local(child.tag)
        if child.get(XSI_NIL, "").strip().lower() == "true":
            value: Any = None
        elif len(child):
            value = _element_record(child)
        else:
            value = child.text if child.text and child.text.strip() else None
        if key in record:  # repeated element: keep all values
            previous = record[key]
            record[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            record[key] = value
    return record


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1]


# --- values -------------------------------------------------------------------------





def record_cursor(record: Any, zone: tzinfo | None = None) -> str | None:
    """The record's updated (else requested) time as cursor text; None if absent or bad."""
    if not isinstance(record, Mapping):
        return None
    try:
        moment = (parse_time(record.get("updated_datetime"), "updated_datetime", zone)
                  or parse_time(record.get("requested_datetime"), "requested_datetime", zone))
    except ValueError:
        return None
    return cursor_text(moment) if moment else None




def text(record: Mapping[str, Any], field: str, default: str = "") -> str:
    """A text field, stripped, NUL-free and cut to the column's length; lists/objects refused."""
    value = record.get(field)
    if value is None:
        return default
    if isinstance(value, (dict, list)):
        raise ValueError(f"{field} is not text: {type(value).__name__}")
    result = str(value).replace("\x00", "").strip() or default
    return result[: LIMITS.get(field, len(result))]




# --- mapping ------------------------------------------------------------------------

def _required_id(record: Mapping[str, Any], field: str, limit: int) -> str:
    value = text(record, field)
    if not value:
        raise ValueError(f"missing {field}")
    if len(value) > limit:
        raise ValueError(f"{field} longer than {limit} characters")
    return value


def _as_record(record: Any) -> Mapping[str, Any]:
    if not isinstance(record, Mapping):
        raise ValueError(f"record is not an object: {type(record).__name__}")
    return record


def map_request(record: Any, zone: tzinfo | None = None) -> dict[str, Any]:
    """One GeoReport v2 request as a ServiceRequest row; ValueError when it is bad."""
    record = _as_record(record)
    request_id = _required_id(record, "service_request_id", 100)
    given = text(record, "status")
    status = given.lower()
    if status not in ("open", "closed"):
        raise ValueError(f"unknown status {given[:40]!r} (expected open or closed)")
    requested = parse_time(record.get("requested_datetime"), "requested_datetime", zone)
    if requested is None:
        raise ValueError("missing requested_datetime")
    updated = parse_time(record.get("updated_datetime"), "updated_datetime", zone)
    closed = parse_time(record.get("closed_datetime"), "closed_datetime", zone)
    lat = coordinate(record.get("lat"), "lat", 90.0)
    lon = coordinate(record.get("long", record.get("lon")), "long", 180.0)
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        lat = lon = None  # half a location, or "null island" (0, 0): not located
    channel = text(record, "channel") or text(record, "source") or "unknown"
    return {
        "id": request_id,
        "service_code": text(record, "service_code", "unknown")[:60],
        "service_name": text(record, "service_name"),
        "department": text(record, "agency_responsible", "unknown")[:100],
        "description": text(record, "description"),
        "status": status,
        "status_notes": text(record, "status_notes"),
        "channel": channel.lower()[:20],
        "requested_at": requested,
        "updated_at": updated,
        "closed_at": (closed or updated) if status == "closed" else None,
        "expected_at": parse_time(record.get("expected_datetime"), "expected_datetime", zone),
        "lat": lat,
        "lon": lon,
        "address": text(record, "address"),
        # A CRM's own feed may name the requester by GeoReport's POST field ``account_id``
        # (public endpoints do not); an id the store does not know is quarantined.
        "citizen_id": text(record, "account_id")[:64] or None,
        "district_id": None,  # assigned by the runner
    }


def map_service(record: Any) -> dict[str, Any]:
    """One GeoReport v2 service (catalogue entry) as a Service row. The extensions
    ``department``, ``domain`` (a CityLens domain) and ``sla_hours`` are read when present."""
    record = _as_record(record)
    code = _required_id(record, "service_code", 60)
    group = text(record, "group")
    domain = text(record, "domain")
    sla = text(record, "sla_hours")
    try:
        sla_hours = float(sla) if sla else None
    except ValueError:
        raise ValueError(f"sla_hours: not a number: {sla[:40]!r}") from None
    if sla_hours is not None and not (0 < sla_hours < 1e6):
        raise ValueError(f"sla_hours: out of range: {sla[:40]!r}")
    return {
        "service_code": code,
        "service_name": text(record, "service_name") or code,
        "description": text(record, "description"),
        "department": (text(record, "department") or group or "unknown")[:100],
        "group": group,
        "domain": domain if domain in DOMAINS else "services",
        "sla_hours": sla_hours,
        "online": text(record, "type").lower() == "realtime",
    }
