"""``ngsi``: FIWARE NGSI v2 and NGSI-LD entities, from a file or a context broker.

A file holds one entity, a list of them, a GeoJSON Feature or FeatureCollection (the
NGSI-LD GeoJSON representation) or a saved notification. A broker (Orion, Orion-LD,
Scorpio, Stellio...) is read page by page at ``/v2/entities`` (``offset``/``limit``,
``options=count`` -> ``Fiware-Total-Count``; ``attrs=dateModified,*`` so entities
without their own times still have one) or ``/ngsi-ld/v1/entities`` (``offset``/
``limit``, ``count=true`` -> ``NGSILD-Results-Count``; ``options=sysAttrs`` for
``modifiedAt``), with ``Fiware-Service``/``Fiware-ServicePath`` or ``NGSILD-Tenant``
headers and an optional ``type`` filter. Connection errors and 429/5xx are retried.

A broker holds each entity's latest state, so every run reads them all and keeps those
whose newest time is after the watermark (and those with no time). Mapping lives in
``connectors.ngsi_parse``; ``parse_notification`` there parses subscription posts.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from pydantic import Field, SecretStr, field_validator

from connectors.base import (
    CheckResult,
    Connector,
    ConnectorConfig,
    Mapped,
    SourceFormatError,
    Stream,
)
from connectors.common import file_check, get_with_retries, http_check, is_url, load_json
from connectors.ngsi_parse import (
    as_entity,
    entity_cursor,
    entity_type,
    map_entity,
    parse_document,
)
from connectors.registry import register
from connectors.values import normalise_watermark
from dashboard.model import DOMAINS

USER_AGENT = "CityLens-NGSI/0.1"
LD_CONTEXT_REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


class NgsiConfig(ConnectorConfig):
    """Where the entities are and how to read and place them."""

    location: str = Field(description="file path, or a broker URL (base, /v2 or /ngsi-ld/v1)")
    api: Literal["auto", "v2", "ld"] = Field(
        default="auto", description="auto: LD when the URL has /ngsi-ld/, else v2")
    type: str | None = Field(default=None, description="entity type(s) to read, comma-separated")
    service: str | None = Field(default=None, description="Fiware-Service header (v2)")
    service_path: str | None = Field(default=None, description="Fiware-ServicePath header (v2)")
    tenant: str | None = Field(default=None, description="NGSILD-Tenant header (LD)")
    context: str | None = Field(default=None, description="JSON-LD @context URL (LD Link header)")
    token: SecretStr | None = Field(default=None, description="sent as Authorization: Bearer")
    page_size: int = Field(default=100, ge=1, le=1000)
    max_pages: int = Field(default=10_000, ge=1)
    timeout_seconds: float = Field(default=20, gt=0)
    timezone: str | None = Field(default=None, description="zone of naive times (default UTC)")
    domains: dict[str, str] = Field(default_factory=dict, description="type -> domain overrides")
    default_domain: str = "environment"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("domains", "default_domain")
    @classmethod
    def _known_domains(cls, value: dict[str, str] | str) -> dict[str, str] | str:
        named = value.values() if isinstance(value, dict) else [value]
        unknown = sorted(set(named) - set(DOMAINS))
        if unknown:
            raise ValueError(f"unknown domains {unknown}; known: {', '.join(DOMAINS)}")
        return value


def api_of(config: NgsiConfig) -> Literal["v2", "ld"]:
    """Which API the broker URL speaks."""
    if config.api != "auto":
        return config.api
    return "ld" if "/ngsi-ld/" in urlsplit(config.location).path + "/" else "v2"


def entities_url(config: NgsiConfig) -> str:
    """The broker's entities endpoint, from a base URL, an API root or the endpoint itself."""
    url = config.location.rstrip("/")
    if url.endswith("/entities"):
        return url
    root = "/ngsi-ld/v1" if api_of(config) == "ld" else "/v2"
    return f"{url}/entities" if url.endswith(root) else f"{url}{root}/entities"


def broker_headers(config: NgsiConfig) -> dict[str, str]:
    """Headers of every request: tenant, service path, context, token."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if api_of(config) == "v2":
        if config.service:
            headers["Fiware-Service"] = config.service
        if config.service_path:
            headers["Fiware-ServicePath"] = config.service_path
    else:
        if config.tenant:
            headers["NGSILD-Tenant"] = config.tenant
        if config.context:
            headers["Link"] = f"<{config.context}>; {LD_CONTEXT_REL}"
    if config.token is not None:
        headers["Authorization"] = f"Bearer {config.token.get_secret_value()}"
    return headers


def broker_get(url: str, params: Mapping[str, Any], headers: Mapping[str, str],
               timeout: float) -> requests.Response:
    """GET with retries on connection errors and 429/5xx; ConnectionError after them.

    Other 4xx answers fail at once, with the broker's error (NGSI v2 ``error``/
    ``description``, NGSI-LD ``title``/``detail``) in the message."""
    return get_with_retries(url, timeout=timeout, params=params,
                            headers=headers, error_detail=_error_text)


def _error_text(response: requests.Response) -> str:
    try:
        body = load_json(response.content, response.url)  # bounded: no deep error bodies
    except SourceFormatError:
        return " ".join(response.text.split())[:200]
    if isinstance(body, Mapping):
        parts = [body.get(k) for k in ("error", "description", "title", "detail")]
        return " ".join(str(p) for p in parts if p)[:200]
    return ""


def _count(response: requests.Response) -> int | None:
    value = (response.headers.get("Fiware-Total-Count")
             or response.headers.get("NGSILD-Results-Count"))
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _key(record: Any) -> str | None:
    """An entity's identity (id and type: NGSI v2 ids are unique per type only)."""
    try:
        entity = as_entity(record)
        kind = entity_type(entity)
    except ValueError:
        return None
    entity_id = entity.get("id")
    return json.dumps([entity_id, kind]) if isinstance(entity_id, str) else None


class EntitiesStream(Stream):
    """The entities of a file or broker, newer than the watermark."""

    name = "entities"
    primary_key = ("id",)
    cursor_field = "dateObserved"  # else observationDateTime, dateModified, observedAt...
    entity = "Asset"

    def __init__(self, config: NgsiConfig) -> None:
        self.config = config
        self.zone = ZoneInfo(config.timezone) if config.timezone else None
        self.types = {t.strip() for t in (config.type or "").split(",") if t.strip()}

    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        location = self.config.location
        if is_url(location):
            records: Any = self._read_pages()
        else:
            records = parse_document(Path(location).read_bytes(), location)
        after = normalise_watermark(watermark) if watermark else None
        for record in records:
            if self.types and not self._wanted(record):
                continue
            cursor = entity_cursor(record, self.zone)
            if after is None or cursor is None or cursor > after:
                yield record  # unreadable records go on to map() and quarantine

    def _wanted(self, record: Any) -> bool:
        try:
            return entity_type(as_entity(record)) in self.types
        except ValueError:
            return True  # let map() say what is wrong with it

    def _read_pages(self) -> Iterator[Any]:
        url, size = entities_url(self.config), self.config.page_size
        params: dict[str, Any] = {"limit": size}
        if api_of(self.config) == "v2":
            params |= {"options": "count", "attrs": "dateModified,*"}
        else:
            params |= {"count": "true", "options": "sysAttrs"}
        if self.config.type:
            params["type"] = self.config.type
        headers = broker_headers(self.config)
        seen: set[str] = set()
        offset = 0
        for _ in range(self.config.max_pages):
            response = broker_get(url, params | {"offset": offset}, headers,
                                  self.config.timeout_seconds)
            page = parse_document(response.content, url)
            keys = [_key(r) for r in page]
            if page and all(k is not None and k in seen for k in keys):
                return  # the broker ignores offset and repeats itself
            for record, key in zip(page, keys, strict=True):
                if key is None or key not in seen:  # entities that moved between pages
                    yield record
                if key is not None:
                    seen.add(key)
            offset += len(page)
            total = _count(response)
            if not page or (offset >= total if total is not None else len(page) < size):
                return

    def map(self, record: Mapping[str, Any]) -> Mapped:
        return map_entity(record, self.zone, self.config.domains, self.config.default_domain)


@register
class NgsiConnector(Connector):
    """A FIWARE NGSI v2 / NGSI-LD source: a file of entities or a context broker."""

    kind: ClassVar[str] = "ngsi"
    config_model: ClassVar[type[ConnectorConfig]] = NgsiConfig
    config: NgsiConfig

    def check(self) -> CheckResult:
        """A file that exists, or a broker that answers a one-entity query."""
        location = self.config.location
        if not is_url(location):
            return file_check(location)
        url = entities_url(self.config)
        params: dict[str, Any] = {"limit": 1}
        if self.config.type:
            params["type"] = self.config.type
        return http_check(url, params=params, headers=broker_headers(self.config),
                          timeout=self.config.timeout_seconds,
                          error_text=lambda error: f"{type(error).__name__}: {error}",
                          failure_detail=_error_text)

    def streams(self) -> list[Stream]:
        return [EntitiesStream(self.config)]
