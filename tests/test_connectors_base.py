"""The connector protocol and registry."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from connectors import (
    CheckResult,
    Connector,
    ConnectorConfig,
    Mapped,
    Stream,
    get_connector,
    register,
)
from connectors.registry import _BUILT_IN, UnknownConnectorError


class ListConfig(ConnectorConfig):
    records: list[dict[str, Any]]
    token: SecretStr | None = None


class ListStream(Stream):
    name = "items"
    primary_key = ("id",)
    cursor_field = "updated"
    entity = "Asset"

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records

    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        return (r for r in self.records if watermark is None or r["updated"] > watermark)

    def map(self, record: Mapping[str, Any]) -> Mapped:
        if "id" not in record:
            raise ValueError("record has no id")
        return Mapped(assets=[{"id": record["id"]}])


class ListConnector(Connector):
    kind = "test-list"
    config_model = ListConfig

    def check(self) -> CheckResult:
        return CheckResult(ok=True)

    def streams(self) -> list[Stream]:
        return [ListStream(self.config.records)]


@pytest.fixture
def registered():
    register(ListConnector)
    yield ListConnector
    _BUILT_IN.pop(ListConnector.kind, None)


def test_registered_connector_reads_after_watermark(registered) -> None:
    cls = get_connector("test-list")
    connector = cls({"records": [{"id": 1, "updated": "a"}, {"id": 2, "updated": "b"}],
                     "token": "s3cret"})
    assert connector.check().ok
    stream, = connector.streams()
    assert [r["id"] for r in stream.read("a")] == [2]
    assert "s3cret" not in repr(connector.config)  # secrets never print


def test_config_is_validated(registered) -> None:
    with pytest.raises(ValidationError):
        registered({"records": [], "surprise": 1})


def test_unknown_kind_lists_the_known_ones(registered) -> None:
    with pytest.raises(UnknownConnectorError, match="known kinds: .*test-list"):
        get_connector("telepathy")
