"""One conformance test parametrised over every registered connector kind."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func, select

from connectors import Connector, ConnectorConfig, Stream, available_kinds, get_connector
from connectors.runner import run_source
from dashboard.model import Asset, FeedRun, Observation, ServiceRequest
from dashboard.settings import Settings

MAPPINGS = Path(__file__).resolve().parents[1] / "data" / "mappings"
# What each kind needs besides an unreachable location to be configured at all.
EXTRA: dict[str, dict[str, Any]] = {
    "csv": {"mapping": str(MAPPINGS / "nyc311.yaml")},
    "sql": {"mapping": str(MAPPINGS / "nyc311.yaml"), "table": "requests"},
    "sensorthings": {"datastream_id": "1", "metric": "level"},
    "mqtt": {"count": 1, "seconds": 1},
}
UNREACHABLE: dict[str, str] = {
    "mqtt": "mqtt://127.0.0.1:1",
    "sql": "postgresql+psycopg://nobody@127.0.0.1:1/none",
}
KINDS = available_kinds()


def _config(kind: str, tmp_path: Path) -> dict[str, Any]:
    location = UNREACHABLE.get(kind, str(tmp_path / "does-not-exist.data"))
    return {"location": location, **EXTRA.get(kind, {})}


def test_the_built_in_kinds_are_registered() -> None:
    assert {"districts", "open311", "ngsi", "mqtt", "sensorthings", "csv", "sql"} <= set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_declares_its_kind_config_and_streams(kind: str, tmp_path: Path) -> None:
    cls = get_connector(kind)
    assert issubclass(cls, Connector) and cls.kind == kind
    assert issubclass(cls.config_model, ConnectorConfig)
    assert "location" in cls.config_model.model_fields
    connector = cls(_config(kind, tmp_path))
    streams = connector.streams()
    assert streams and all(isinstance(s, Stream) for s in streams)
    for stream in streams:
        assert stream.name and stream.primary_key and stream.entity


@pytest.mark.parametrize("kind", KINDS)
def test_rejects_unknown_configuration(kind: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        get_connector(kind)({**_config(kind, tmp_path), "no_such_setting": 1})


@pytest.mark.parametrize("kind", KINDS)
def test_an_unreachable_source_fails_its_run_and_stores_nothing(
    kind: str, tmp_path: Path, fresh_engine: Engine
) -> None:
    connector = get_connector(kind)(_config(kind, tmp_path))
    report = run_source(fresh_engine, Settings(), connector, f"conformance-{kind}")
    assert report.status == "failed" and report.failure in {"format", "unavailable"}
    assert report.error and "\n" not in report.error.strip()
    with fresh_engine.connect() as conn:
        for model in (Asset, Observation, ServiceRequest):
            assert conn.execute(select(func.count()).select_from(model)).scalar_one() == 0
        status = conn.execute(select(FeedRun.status)).scalar_one()
    assert status == "failed"
