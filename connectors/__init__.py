"""Connectors: one module per source kind, sharing the base protocol in ``connectors.base``.

The foundation ships the protocol and the registry; the built-in kinds (NGSI, MQTT,
Open311, GTFS, SensorThings, CSV, SQL, districts) arrive with the connectors issue.
"""
from __future__ import annotations

from connectors.base import (
    CheckResult,
    Connector,
    ConnectorConfig,
    Mapped,
    SourceFormatError,
    Stream,
)
from connectors.registry import UnknownConnectorError, available_kinds, get_connector, register

__all__ = [
    "CheckResult",
    "Connector",
    "ConnectorConfig",
    "Mapped",
    "SourceFormatError",
    "Stream",
    "UnknownConnectorError",
    "available_kinds",
    "get_connector",
    "register",
]
