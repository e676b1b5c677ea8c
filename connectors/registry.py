"""Resolve a connector kind to its class: built-ins, then ``citylens.connectors`` entry points
(the way pandas finds plotting backends)."""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from connectors.base import Connector

ENTRY_POINT_GROUP = "citylens.connectors"
BUILT_IN_MODULES = (
    "connectors.districts",
    "connectors.open311",
    "connectors.csv_source",
    "connectors.sql_source",
    "connectors.sensorthings",
    "connectors.mqtt",
    "connectors.ngsi",
    "connectors.gtfs",
    "connectors.gtfs_rt",
)
_BUILT_IN: dict[str, type[Connector]] = {}


def _load_built_ins() -> None:
    for module in BUILT_IN_MODULES:
        importlib.import_module(module)  # each registers its connector on import


class UnknownConnectorError(LookupError):
    """No connector is registered for a kind; the message lists the known ones."""


def register(cls: type[Connector]) -> type[Connector]:
    """Class decorator that registers a built-in connector under its ``kind``."""
    _BUILT_IN[cls.kind] = cls
    return cls


def _plugins() -> dict[str, type[Connector]]:
    found: dict[str, type[Connector]] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found[point.name] = point.load()
    return found


def available_kinds() -> list[str]:
    """Every kind that can be configured, built-in or installed as a plugin."""
    _load_built_ins()
    return sorted({*_BUILT_IN, *(p.name for p in entry_points(group=ENTRY_POINT_GROUP))})


def get_connector(kind: str) -> type[Connector]:
    """The connector class for ``kind``, or an error that lists the kinds it knows."""
    _load_built_ins()
    if kind in _BUILT_IN:
        return _BUILT_IN[kind]
    plugins = _plugins()
    if kind in plugins:
        return plugins[kind]
    known = ", ".join(available_kinds()) or "none yet"
    raise UnknownConnectorError(f"no connector for kind {kind!r}; known kinds: {known}")
