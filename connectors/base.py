"""The connector protocol, in the shape of the Airbyte CDK and the Singer SDK.

A connector declares its configuration (pydantic; secrets as ``SecretStr``), can
``check()`` that its source is reachable, and lists its streams. A stream declares its
primary key and cursor field and yields raw records after a watermark. The shared runner
(state, validation, quarantine, feed runs) and the one retry policy (``connectors.retry``)
do the rest, so a new connector is mostly a mapping from raw records to the unified model.
Chunks (``MappedChunk``) are the protocol of sources that map many rows in one go.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import pandas as pd
from pydantic import BaseModel, ConfigDict


class ConnectorConfig(BaseModel):
    """Base of every connector's configuration; unknown keys are an error."""

    model_config = ConfigDict(extra="forbid")


BAD_RECORD_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError)
"""What a stream's ``map`` raises for one bad record (it is quarantined with the message)."""


class SourceFormatError(ValueError):
    """A whole file or response cannot be parsed; the message names it and the problem."""


@dataclass
class Mapped:
    """What one raw record becomes in the unified model (rows as dicts, per entity).

    observations: {"asset_id": URN, "metric", "time": aware datetime, "value", "unit"}.
    Located assets, requests and notices get their district assigned by the runner; a
    ``citizen_id`` or ``district_id`` given must name one in the store (or in the batch).
    """

    assets: list[dict[str, Any]] = field(default_factory=list)
    observations: list[dict[str, Any]] = field(default_factory=list)
    service_requests: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    districts: list[dict[str, Any]] = field(default_factory=list)
    citizens: list[dict[str, Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    participation: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    cursor: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """Whether a source answered, and why not."""

    ok: bool
    message: str = ""


@dataclass
class MappedChunk:
    """What a chunk of rows became: assets (one per id, from its last good row), the
    observations (asset URN, metric, epoch-second time, value, unit), how many rows were
    mapped, their newest cursor, and the rows left for the row mapper."""

    assets: list[dict[str, Any]] = field(default_factory=list)
    observations: pd.DataFrame = field(default_factory=pd.DataFrame)
    rows: int = 0
    cursor: str | None = None
    leftovers: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Plausible:
    """What a stream that maps chunks in one go must leave to the row mapper, so that the
    runner's checks quarantine it with its reason: readings dated outside
    [``earliest``, ``latest``], beyond ±``max_value``, or outside their metric's range
    (``ranges``: "Type.attribute" or a bare attribute -> (min, max))."""

    earliest: datetime
    latest: datetime
    ranges: Mapping[str, tuple[float, float]]
    max_value: float


class _CommitPoint:
    """The type of ``COMMIT_POINT``."""

    def __repr__(self) -> str:
        return "COMMIT_POINT"


COMMIT_POINT: Any = _CommitPoint()
"""Yielded by a stream's ``read`` (it is not a record) to have everything it yielded so far
committed now, and then ``acknowledge``d: a live source does it when it goes idle, so what
it hands over is never held uncommitted for long, nor acknowledged before it is stored."""


class Stream(ABC):
    """One kind of record a source yields (e.g. Open311 requests, NGSI entities)."""

    name: ClassVar[str]
    primary_key: ClassVar[tuple[str, ...]]
    cursor_field: ClassVar[str | None] = None
    entity: ClassVar[str]  # unified-model entity the records map to

    @abstractmethod
    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        """Yield raw records newer than ``watermark`` (all when None)."""

    @abstractmethod
    def map(self, record: Mapping[str, Any]) -> Mapped:
        """Map one raw record to the unified model; raise ValueError when it is bad."""

    def acknowledge(self) -> None:
        """Every record yielded so far is committed (stored or quarantined): a source that
        takes acknowledgements (an MQTT broker) is told now, never before. Default: none."""

    def read_chunks(self, watermark: str | None, plausible: Plausible | None = None
                    ) -> Iterator[MappedChunk] | None:
        """Chunks mapped in one go (large files), or None to be read record by record
        (the default). Rows a chunk leaves are in its ``leftovers``, for ``map``: those
        it cannot map, and those ``plausible`` does not admit."""
        return None


class Connector(ABC):
    """A configured source of one kind."""

    kind: ClassVar[str]
    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    config: Any

    def __init__(self, config: Mapping[str, Any] | ConnectorConfig) -> None:
        self.config = (
            config if isinstance(config, ConnectorConfig)
            else self.config_model.model_validate(dict(config))
        )

    @abstractmethod
    def check(self) -> CheckResult:
        """Try to reach the source without reading data."""

    @abstractmethod
    def streams(self) -> list[Stream]:
        """The streams this source offers."""
