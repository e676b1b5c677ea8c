"""The open-data API against its own OpenAPI document, with schemathesis (property-based).

Every documented operation is called with generated parameters; responses must not be
server errors and must match the documented status codes, content types and schemas.
(Driven with ``hypothesis.given`` over each operation's strategy rather than
``schemathesis.pytest.from_fixture``, whose lazy loader needs ``Node._nodeid``, which
pytest 9.2 no longer has.)
"""
from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app
from dashboard.api.openapi import openapi_document
from dashboard.settings import Settings
from tests.test_api import api_server, demo_settings  # noqa: F401 - demo city fixture

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
OPERATIONS = [(method.upper(), path) for path, item in openapi_document()["paths"].items()
              for method in item]
MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def api_schema(demo_settings: Settings) -> schemathesis.BaseSchema:  # noqa: F811
    """The schema as the app serves it, bound to the app (WSGI, no network)."""
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_server(demo_settings))


def test_every_route_is_documented(demo_settings: Settings) -> None:  # noqa: F811
    server = create_app(demo_settings).server  # no request: see tests.test_api.api_server
    routes = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1")))
        for rule in server.url_map.iter_rules()
        if rule.endpoint.startswith("api_v1.") and rule.endpoint != "api_v1.not_found"
        for method in rule.methods or () if method not in ("HEAD", "OPTIONS")
    }
    assert routes == set(OPERATIONS) and len(OPERATIONS) == 10


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[p for _, p in OPERATIONS])
def test_operation_conforms_to_the_document(
    api_schema: schemathesis.BaseSchema, method: str, path: str
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=CHECKS)

    run()
