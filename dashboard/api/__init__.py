"""The open-data API (Flask only): ``api_v1`` blueprint, parameters, OpenAPI document."""
from __future__ import annotations

from dashboard.api.blueprint import api_v1, register_api

__all__ = ["api_v1", "register_api"]
