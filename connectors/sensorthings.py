"""OGC SensorThings API connector: Datastreams as assets and their Observations, from a
server (the service root, e.g. ``http://host/FROST-Server/v1.1``) or from a file.

From a server, Things are read with their Locations and Datastreams expanded (one asset
per Datastream), then each Datastream's Observations after the watermark
(``$filter=phenomenonTime gt ...``, oldest first), following ``@iot.nextLink`` pages on
the same host only, up to ``max_pages`` per collection, retrying connection errors and
429/5xx with backoff. A file holds Observations of one Datastream (a collection response
or a bare list): the config names the Datastream, metric and unit; its nextLink is never
followed. Parsing and mapping live in ``connectors.sensorthings_parse``.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import requests
from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.base import CheckResult, Connector, ConnectorConfig, Mapped, Stream
from connectors.common import (
    file_check,
    get_with_retries,
    http_check,
    is_url,
    response_text,
)
from connectors.registry import register
from connectors.sensorthings_parse import (
    host_slug,
    map_datastream,
    map_observation,
    observation_time,
    parse_collection,
)
from connectors.values import normalise_watermark, parse_time
from dashboard.model import DOMAINS

USER_AGENT = "CityLens-SensorThings/0.1"
THINGS_EXPAND = "Locations,Datastreams($expand=ObservedProperty)"
log = logging.getLogger(__name__)


class SensorThingsConfig(ConnectorConfig):
    """Where the SensorThings data is, and (for a file) which Datastream it belongs to."""

    location: str = Field(description="service root URL, or a file of Observations")
    domain: str = Field(default="environment", description="dashboard domain of the assets")
    datastream_id: str | None = Field(
        default=None, description="file: the Datastream of the Observations; server: only it")
    metric: str | None = Field(default=None, description="file: the observed property name")
    unit: str | None = Field(default=None, description="file: the unit symbol")
    name: str | None = Field(default=None, description="file: the asset's name")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    host: str | None = Field(default=None, description="file: host part of the URNs")
    page_size: int = Field(default=100, ge=1, description="$top asked of the server")
    max_pages: int = Field(default=1000, ge=1, description="pages read per collection")
    timeout_seconds: float = Field(default=20, gt=0)
    username: str | None = None
    password: SecretStr | None = None

    @field_validator("datastream_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("domain")
    @classmethod
    def _known_domain(cls, value: str) -> str:
        if value not in DOMAINS:
            raise ValueError(f"unknown domain {value!r}; known: {', '.join(DOMAINS)}")
        return value

    @model_validator(mode="after")
    def _file_names_its_datastream(self) -> SensorThingsConfig:
        if not is_url(self.location) and not (self.datastream_id and self.metric):
            raise ValueError("a file of Observations needs datastream_id and metric")
        return self


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class _Client:
    """GETs collections of one server, page by page, with retries."""

    def __init__(self, config: SensorThingsConfig) -> None:
        self.config = config
        self.root = config.location.rstrip("/")
        self.auth = ((config.username, config.password.get_secret_value())
                     if config.username and config.password else None)

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        """GET with retries on connection errors, timeouts and 429/5xx; ConnectionError after.

        Other 4xx answers fail at once (a wrong URL does not heal by retrying).
        """
        return get_with_retries(
            url, timeout=self.config.timeout_seconds, params=params,
            headers={"User-Agent": USER_AGENT}, auth=self.auth, error_detail=response_text,
        )

    def collection(self, path: str, params: Mapping[str, Any]) -> Iterator[Any]:
        """Every entity of a collection, following nextLinks on the same host."""
        url: str | None = f"{self.root}/{path}"
        query: Mapping[str, Any] | None = {"$top": self.config.page_size, **params}
        seen: set[str] = set()
        for _ in range(self.config.max_pages):
            if url is None:
                return
            response = self.get(url, query)
            entities, link = parse_collection(response.content, response.url or url)
            yield from entities
            seen.add(response.url or url)
            url, query = (urljoin(url, link) if link else None), None
            if url is not None and _origin(url) != _origin(self.root):
                log.warning("%s: not following a nextLink to another host: %s", self.root, url)
                return
            if url in seen:
                return  # a server that links a page to itself
        if url is not None:
            log.warning("%s/%s: stopped after max_pages=%d", self.root, path,
                        self.config.max_pages)


class _Catalogue:
    """The server's Datastreams, each with its Thing (and Locations) embedded; read once."""

    def __init__(self, client: _Client) -> None:
        self.client = client
        self._datastreams: list[dict[str, Any]] | None = None

    def datastreams(self) -> list[dict[str, Any]]:
        if self._datastreams is None:
            wanted = self.client.config.datastream_id
            found: list[dict[str, Any]] = []
            for thing in self.client.collection("Things", {"$expand": THINGS_EXPAND}):
                if not isinstance(thing, Mapping):
                    continue
                listed = thing.get("Datastreams")
                about = {k: v for k, v in thing.items() if k != "Datastreams"}
                for datastream in listed if isinstance(listed, list) else []:
                    if isinstance(datastream, Mapping) and (
                            wanted is None or str(datastream.get("@iot.id")) == wanted):
                        found.append({**datastream, "Thing": about})
            self._datastreams = found
        return self._datastreams


class DatastreamsStream(Stream):
    """Datastreams of a server, as assets (read whole; they have no cursor)."""

    name = "datastreams"
    primary_key = ("@iot.id",)
    cursor_field = None
    entity = "Asset"

    def __init__(self, config: SensorThingsConfig, catalogue: _Catalogue, host: str) -> None:
        self.config, self.catalogue, self.host = config, catalogue, host

    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        yield from self.catalogue.datastreams()

    def map(self, record: Mapping[str, Any]) -> Mapped:
        return Mapped(assets=[map_datastream(record, self.host, self.config.domain)])


class ObservationsStream(Stream):
    """Observations after the watermark; each raw record carries its ``Datastream``."""

    name = "observations"
    primary_key = ("@iot.id",)
    cursor_field = "phenomenonTime"
    entity = "Observation"

    def __init__(self, config: SensorThingsConfig, catalogue: _Catalogue | None,
                 host: str) -> None:
        self.config, self.catalogue, self.host = config, catalogue, host

    def file_datastream(self) -> dict[str, Any]:
        """The Datastream the config attaches a file's Observations to."""
        config = self.config
        located = config.lat is not None and config.lon is not None
        return {
            "@iot.id": config.datastream_id, "name": config.name or "",
            "ObservedProperty": {"name": config.metric or ""},
            "unitOfMeasurement": {"symbol": config.unit} if config.unit else {},
            "Thing": {"Locations": [{"location": {
                "type": "Point", "coordinates": [config.lon, config.lat]}}] if located else []},
        }

    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        if self.catalogue is None:
            yield from self._read_file(watermark)
            return
        params = {"$orderby": "phenomenonTime asc"}
        if watermark:
            params["$filter"] = f"phenomenonTime gt {normalise_watermark(watermark)}"
        for datastream in self.catalogue.datastreams():
            ds_id = datastream.get("@iot.id")
            if isinstance(ds_id, bool) or not isinstance(ds_id, (int, str)):
                continue  # the datastreams stream quarantines it
            key = str(ds_id) if isinstance(ds_id, int) else "'" + ds_id.replace("'", "''") + "'"
            for observation in self.catalogue.client.collection(
                    f"Datastreams({key})/Observations", params):
                yield ({**observation, "Datastream": datastream}
                       if isinstance(observation, Mapping) else observation)

    def _read_file(self, watermark: str | None) -> Iterator[Any]:
        path = self.config.location
        records, _ = parse_collection(Path(path).read_bytes(), path)  # nextLink: not followed
        after = parse_time(watermark, "watermark") if watermark else None
        for record in records:
            if after is not None and isinstance(record, Mapping):
                try:
                    if observation_time(record) <= after:
                        continue
                except ValueError:
                    pass  # map() quarantines it with the reason
            yield record

    def map(self, record: Mapping[str, Any]) -> Mapped:
        datastream = record.get("Datastream") if isinstance(record, Mapping) else None
        if self.catalogue is None and not isinstance(datastream, Mapping):
            datastream = self.file_datastream()
        elif datastream is None:
            raise ValueError("Observation has no Datastream")
        return map_observation(record, datastream, self.host, self.config.domain)


@register
class SensorThingsConnector(Connector):
    """An OGC SensorThings API source: a server's Datastreams and Observations, or a file."""

    kind: ClassVar[str] = "sensorthings"
    config_model: ClassVar[type[ConnectorConfig]] = SensorThingsConfig
    config: SensorThingsConfig

    def check(self) -> CheckResult:
        """Reach the location (a file that exists, a service root that answers)."""
        location = self.config.location
        if not is_url(location):
            return file_check(location)
        client = _Client(self.config)
        return http_check(client.root, auth=client.auth, timeout=self.config.timeout_seconds,
                          headers={"User-Agent": USER_AGENT}, label=location)

    def streams(self) -> list[Stream]:
        """Server: the datastreams stream, then the observations stream; file: observations."""
        config = self.config
        if not is_url(config.location):
            host = host_slug(config.host) if config.host else "file"
            return [ObservationsStream(config, None, host)]
        catalogue = _Catalogue(_Client(config))
        host = host_slug(urlsplit(config.location).netloc)
        return [DatastreamsStream(config, catalogue, host),
                ObservationsStream(config, catalogue, host)]
