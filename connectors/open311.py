"""Open311 GeoReport v2 connector: service requests and the services catalogue, from a
file or an endpoint, in JSON or XML (the standard's mandatory format).

Endpoints are read page by page (``page``/``page_size``; stops on an empty or short page
or after ``max_pages``), after the watermark (``start_date``), retrying connection errors
and 5xx answers with backoff. Parsing and mapping live in ``connectors.open311_parse``.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from pydantic import Field, SecretStr, field_validator

from connectors.base import CheckResult, Connector, ConnectorConfig, Mapped, Stream
from connectors.common import file_check, get_with_retries, http_check, is_url, response_text
from connectors.open311_parse import map_request, map_service, parse_payload, record_cursor
from connectors.registry import register
from connectors.values import normalise_watermark

USER_AGENT = "CityLens-Open311/0.1"


class Open311Config(ConnectorConfig):
    """Where the requests (and optionally the services list) are, and how to read them."""

    location: str = Field(description="file path or http(s) URL of requests.json / requests.xml")
    services: str | None = Field(default=None, description="file or URL of the services list")
    format: Literal["auto", "json", "xml"] = "auto"
    page_size: int = Field(default=100, ge=1)
    max_pages: int = Field(default=1000, ge=1)
    timeout_seconds: float = Field(default=20, gt=0)
    api_key: SecretStr | None = None
    jurisdiction_id: str | None = None
    timezone: str | None = Field(default=None, description="zone of naive times (default UTC)")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value


def http_get(url: str, params: Mapping[str, Any], timeout: float) -> requests.Response:
    """GET with retries on connection errors, timeouts and 429/5xx; ConnectionError after.

    Other 4xx answers fail at once (a wrong URL or key does not heal by retrying).
    """
    return get_with_retries(
        url, timeout=timeout, params=params,
        headers={"User-Agent": USER_AGENT}, error_detail=response_text,
        redact=lambda text: _redact(text, params),
    )


def _redact(message: str, params: Mapping[str, Any]) -> str:
    """``message`` with the API key (which URLs in errors may carry) masked."""
    key = params.get("api_key")
    return message.replace(str(key), "***") if key else message


class _Open311Stream(Stream):
    """Shared reading of a file or URL into raw records."""

    def __init__(self, config: Open311Config, location: str) -> None:
        self.config = config
        self.location = location
        self.zone = ZoneInfo(config.timezone) if config.timezone else None

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.config.api_key is not None:
            params["api_key"] = self.config.api_key.get_secret_value()
        if self.config.jurisdiction_id:
            params["jurisdiction_id"] = self.config.jurisdiction_id
        return params

    def _parse_response(self, response: requests.Response) -> list[Any]:
        hint = f"{response.headers.get('Content-Type', '')} {self.location}"
        return parse_payload(response.content, self.config.format, self.location, hint)

    def _read_file(self) -> list[Any]:
        return parse_payload(Path(self.location).read_bytes(), self.config.format, self.location)


class ServicesStream(_Open311Stream):
    """The services catalogue (GET services); it has no cursor, so it is read whole."""

    name = "services"
    primary_key = ("service_code",)
    cursor_field = None
    entity = "Service"

    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        if is_url(self.location):
            response = http_get(self.location, self._params(), self.config.timeout_seconds)
            yield from self._parse_response(response)
        else:
            yield from self._read_file()

    def map(self, record: Mapping[str, Any]) -> Mapped:
        return Mapped(services=[map_service(record)])


class RequestsStream(_Open311Stream):
    """Service requests (GET requests), after the watermark on updated (else requested) time."""

    name = "requests"
    primary_key = ("service_request_id",)
    cursor_field = "updated_datetime"
    entity = "ServiceRequest"

    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        records = self._read_pages(watermark) if is_url(self.location) else self._read_file()
        after = normalise_watermark(watermark) if watermark else None
        for record in records:
            cursor = record_cursor(record, self.zone)
            if after is None or cursor is None or cursor > after:
                yield record  # records without a readable time go on to map() and quarantine

    def _read_pages(self, watermark: str | None) -> Iterator[Any]:
        size = self.config.page_size
        params = self._params() | {"page_size": size}
        if watermark:
            params["start_date"] = watermark
        seen: set[str] = set()
        for page in range(1, self.config.max_pages + 1):
            response = http_get(self.location, params | {"page": page},
                                self.config.timeout_seconds)
            records = self._parse_response(response)
            ids = [str(r.get("service_request_id")) for r in records if isinstance(r, Mapping)]
            if ids and seen.issuperset(ids):
                return  # the server ignores paging and repeats itself
            for record, key in zip(records, _keys(records), strict=True):
                if key is None or key not in seen:  # pages that shifted overlap
                    yield record
                if key is not None:
                    seen.add(key)
            if len(records) != size:
                return  # empty or short page (or a server that ignores page_size)

    def map(self, record: Mapping[str, Any]) -> Mapped:
        row = map_request(record, self.zone)
        return Mapped(service_requests=[row], cursor=record_cursor(record, self.zone))


def _keys(records: list[Any]) -> list[str | None]:
    return [str(r["service_request_id"]) if isinstance(r, Mapping) and
            r.get("service_request_id") is not None else None for r in records]


@register
class Open311Connector(Connector):
    """An Open311 GeoReport v2 source (requests, and services when ``services`` is set)."""

    kind: ClassVar[str] = "open311"
    config_model: ClassVar[type[ConnectorConfig]] = Open311Config
    config: Open311Config

    def check(self) -> CheckResult:
        """Reach the requests location (a file that exists, a URL that answers)."""
        location = self.config.location
        if not is_url(location):
            return file_check(location)
        params: dict[str, Any] = {"page_size": 1}
        if self.config.api_key is not None:
            params["api_key"] = self.config.api_key.get_secret_value()
        return http_check(location, params=params, headers={"User-Agent": USER_AGENT},
                          timeout=self.config.timeout_seconds,
                          error_text=lambda error: _redact(f"{type(error).__name__}: {error}",
                                                           params))

    def streams(self) -> list[Stream]:
        """The services stream (when configured), then the requests stream."""
        found: list[Stream] = []
        if self.config.services:
            found.append(ServicesStream(self.config, self.config.services))
        found.append(RequestsStream(self.config, self.config.location))
        return found
