"""Parsing and mapping of MQTT telemetry messages: topic + JSON payload to observations.

Topics in the FIWARE IoT Agent (JSON) style, ``/<apikey>/<device_id>/attrs`` (also
``/json/<apikey>/<device_id>/attrs`` and single-attribute ``.../attrs/<attribute>``),
carry ``{"attribute": value, ...}``; other topics are mapped to devices by configuration.
No I/O here; ``connectors.mqtt`` talks to the broker.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors import values
from dashboard.model import DOMAINS

TIME_FIELDS = ("TimeInstant", "dateObserved")
SAFE_ID = re.compile(r"[A-Za-z0-9_.:@~\-]{1,100}")
URN_PREFIX = "urn:ngsi-ld:"
MAX_METRIC, MAX_UNIT, MAX_ID, MAX_NAME, MAX_TEXT = 60, 20, 200, 200, 1000


def check_domain(value: str | None) -> str | None:
    """``value`` when it is a known domain (or None); ValueError otherwise."""
    if value is not None and value not in DOMAINS:
        raise ValueError(f"unknown domain {value!r}; known: {', '.join(DOMAINS)}")
    return value


class DeviceMapping(BaseModel):
    """The asset a topic or device id stands for, and how its attributes become metrics."""

    model_config = ConfigDict(extra="forbid")

    asset_id: str = Field(description="NGSI-LD URN of the asset, urn:ngsi-ld:<Type>:<id>")
    type: str | None = Field(default=None, description="FIWARE type (default: default_type)")
    domain: str | None = Field(default=None, description="domain (default: default_domain)")
    name: str | None = None
    metrics: dict[str, str] = Field(default_factory=dict, description="attribute -> metric")
    units: dict[str, str] = Field(default_factory=dict, description="attribute -> unit")
    attribute: str | None = Field(default=None, description="name of a bare-value payload")

    @field_validator("asset_id")
    @classmethod
    def _urn(cls, value: str) -> str:
        if not value.startswith(URN_PREFIX) or len(value) > MAX_ID:
            raise ValueError(f"asset_id must be an {URN_PREFIX} URN of <= {MAX_ID} characters")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return check_domain(value)

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, value: dict[str, str]) -> dict[str, str]:
        for metric in value.values():
            if not metric or len(metric) > MAX_METRIC:
                raise ValueError(f"metric names must have 1 to {MAX_METRIC} characters")
        return value

    @field_validator("units")
    @classmethod
    def _unit_lengths(cls, value: dict[str, str]) -> dict[str, str]:
        if any(len(unit) > MAX_UNIT for unit in value.values()):
            raise ValueError(f"units must have at most {MAX_UNIT} characters")
        return value


@dataclass(frozen=True)
class Defaults:
    """How messages of devices without a mapping are treated."""

    type: str = "Device"
    domain: str = "environment"
    accept_unknown: bool = True


@dataclass(frozen=True)
class Topic:
    """What a topic says: an IoT Agent device (apikey, device id, maybe one attribute)."""

    apikey: str | None = None
    device_id: str | None = None
    attribute: str | None = None


def parse_topic(topic: str) -> Topic:
    """The IoT Agent parts of ``topic``; an empty Topic when it is a plain topic."""
    parts = topic.split("/")
    if parts and parts[0] == "":
        parts = parts[1:]
    if parts and parts[0] == "json" and len(parts) >= 4 and parts[3] == "attrs":
        parts = parts[1:]
    if len(parts) in (3, 4) and parts[2] == "attrs" and parts[0] and parts[1]:
        attribute = parts[3] if len(parts) == 4 else None
        if attribute == "":
            return Topic()
        return Topic(parts[0], parts[1], attribute)
    return Topic()


def parse_time(value: Any, field: str) -> datetime:
    """An ISO-8601 time as an aware UTC datetime (naive times are UTC); a reading must have
    one, so a missing time is an error too."""
    moment = values.parse_time(value, field)
    if moment is None:
        raise ValueError(f"{field} is not a time: {str(value)[:60]!r}")
    return moment


def cursor_text(moment: datetime) -> str:
    """A UTC cursor value, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number")


def parse_payload(text: str) -> Any:
    """The JSON document of a payload; ValueError when it is not JSON."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("payload nests too deeply") from None
    except ValueError as error:
        raise ValueError(f"payload is not JSON: {' '.join(str(error).split())[:200]}") from None


def number(value: Any) -> float | None:
    """A finite float of a JSON number or numeric text; None when it is not numeric."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            result = float(value)
        except OverflowError:
            raise ValueError(f"number out of range: {str(value)[:40]}") from None
        if not math.isfinite(result):
            raise ValueError(f"number out of range: {str(value)[:40]}")
        return result
    if isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
        return result if math.isfinite(result) else None
    return None


def _clean(value: Any) -> Any:
    """A text attribute value fit for a JSON column (NUL-free, bounded)."""
    if isinstance(value, str):
        value.encode("utf-8")  # lone surrogates (from JSON escapes): UnicodeEncodeError
        return value.replace("\x00", "")[:MAX_TEXT]
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False)
        text.encode("utf-8")
        if "\\u0000" in text or len(text) > MAX_TEXT:
            return text.replace("\\u0000", "")[:MAX_TEXT]  # kept as text
        return value
    return value


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _device(topic: str, parsed: Topic, devices: Mapping[str, DeviceMapping],
            defaults: Defaults) -> tuple[dict[str, Any], DeviceMapping | None]:
    """The asset row of the message's device and its mapping (None for unknown devices)."""
    mapping = devices.get(topic)
    if mapping is None and parsed.device_id is not None:
        mapping = devices.get(parsed.device_id)
    if mapping is not None:
        name = mapping.name or parsed.device_id or topic
        return {"id": mapping.asset_id, "type": mapping.type or defaults.type,
                "domain": mapping.domain or defaults.domain, "name": name[:MAX_NAME]}, mapping
    if parsed.device_id is None or parsed.apikey is None:
        raise ValueError(f"topic {topic[:100]!r} is no IoT Agent topic and maps to no device")
    if not defaults.accept_unknown:
        raise ValueError(f"unknown device {parsed.device_id[:100]!r} (apikey "
                         f"{parsed.apikey[:40]!r}) and accept_unknown_devices is off")
    for part, label in ((parsed.apikey, "apikey"), (parsed.device_id, "device id")):
        if not SAFE_ID.fullmatch(part):
            raise ValueError(f"{label} {part[:100]!r} is not a safe identifier")
    urn = f"{URN_PREFIX}{defaults.type}:{parsed.apikey}:{parsed.device_id}"
    return {"id": urn[:MAX_ID], "type": defaults.type, "domain": defaults.domain,
            "name": parsed.device_id}, None


def map_message(record: Any, devices: Mapping[str, DeviceMapping],
                defaults: Defaults) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """One message as (asset row, observations, cursor); ValueError when it is bad.

    Numeric values become observations; text (and other non-numeric) values go to the
    asset's attributes; a message without any numeric value is refused.
    """
    if not isinstance(record, Mapping):
        raise ValueError(f"record is not an object: {type(record).__name__}")
    topic, payload = record.get("topic"), record.get("payload")
    if not isinstance(topic, str) or not isinstance(payload, str):
        raise ValueError("record needs a text topic and a text payload")
    received = parse_time(record.get("received"), "received")
    parsed = parse_topic(topic)
    asset, mapping = _device(topic, parsed, devices, defaults)
    document = parse_payload(payload)
    bare = parsed.attribute or (mapping.attribute if mapping else None)
    if not isinstance(document, dict):
        if bare is None and parsed.device_id is None:
            bare = topic.rstrip("/").rsplit("/", 1)[-1]
        if not bare:
            raise ValueError(f"payload is a JSON {type(document).__name__}, not an object")
        document = {bare: document}
    moment = received
    for field in TIME_FIELDS:
        if document.get(field) is not None:
            moment = parse_time(document[field], field)
            break
    observations: list[dict[str, Any]] = []
    attributes: dict[str, Any] = {}
    for attribute, value in document.items():
        if attribute in TIME_FIELDS or value is None:
            continue
        metric = mapping.metrics.get(attribute, attribute) if mapping else attribute
        if not metric or len(metric) > MAX_METRIC or "\x00" in metric or not _utf8(metric):
            raise ValueError(f"attribute name {attribute[:80]!r} is not a metric name")
        numeric = number(value)
        if numeric is None:
            attributes[metric] = _clean(value)
            continue
        unit = mapping.units.get(attribute, mapping.units.get(metric)) if mapping else None
        observations.append({"asset_id": asset["id"], "metric": metric, "time": moment,
                             "value": numeric, "unit": unit})
    if not observations:
        raise ValueError("payload holds no numeric value")
    if attributes:
        asset["attributes"] = attributes
    return asset, observations, cursor_text(received)
