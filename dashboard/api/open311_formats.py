"""Open311 GeoReport v2 responses in both of the standard's formats: JSON, and XML with
the standard's element names (``<services><service>``, ``<service_requests><request>``,
``<service_definition>``, ``<errors><error>``). Text is escaped by the XML writer and sent
as data, never as markup."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from flask import Response

FORMATS = ("json", "xml")
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
# How a list nests in XML: the list's element -> each item's element.
XML_ITEMS = {"services": "service", "service_requests": "request", "errors": "error",
             "attributes": "attribute", "values": "value"}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _fill(parent: Element, fields: Mapping[str, Any]) -> None:
    for name, value in fields.items():
        child = SubElement(parent, name)
        if isinstance(value, list):
            item_tag = XML_ITEMS.get(name, "item")
            for item in value:
                _fill(SubElement(child, item_tag), item)
        else:
            child.text = _text(value)


def to_xml(root: str, body: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> bytes:
    """``body`` (a list of items, or one object) under ``<root>``, with its declaration."""
    element = Element(root)
    if isinstance(body, Mapping):
        _fill(element, body)
    else:
        for item in body:
            _fill(SubElement(element, XML_ITEMS[root]), item)
    text: bytes = tostring(element, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + text


def respond(fmt: str, root: str, body: Sequence[Mapping[str, Any]] | Mapping[str, Any],
            status: int = 200) -> Response:
    """``body`` as JSON, or as XML under ``<root>``."""
    if fmt == "xml":
        return Response(to_xml(root, body), status=status, content_type=XML_TYPE)
    return Response(json.dumps(body, ensure_ascii=False), status=status,
                    content_type=JSON_TYPE)  # the standard's field order, not sorted


def error(fmt: str, status: int, description: str) -> Response:
    """The standard's error list: ``[{"code": 400, "description": "..."}]``."""
    return respond(fmt, "errors", [{"code": status, "description": description}], status)
