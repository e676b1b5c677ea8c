"""The API's front door: an index of the endpoints (JSON, at /api/v1/) and a reference
page rendered from the OpenAPI document (HTML, at /api/v1/docs). Both are generated from
``openapi_document``, so they never drift from what the API serves."""
from __future__ import annotations

from typing import Any

from markupsafe import Markup

PREFIX = "/api/v1"
STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2733;background:#f4f6f9}
main{max-width:960px;margin:0 auto;padding:24px 16px 48px}
h1{font-size:26px;margin:0 0 4px} h2{font-size:18px;margin:0}
.endpoint{background:#fff;border:1px solid #d9dee5;border-radius:8px;padding:14px 16px;
 margin:14px 0}
.method{display:inline-block;font:600 12px monospace;background:#0f2742;color:#fff;
 border-radius:4px;padding:2px 6px;margin-right:6px}
code{font:13px monospace;background:#eef1f5;border-radius:4px;padding:1px 4px}
table{border-collapse:collapse;width:100%;margin-top:8px;font-size:14px}
th,td{text-align:left;border-top:1px solid #e3e7ec;padding:6px 8px;vertical-align:top}
th{font-size:12px;text-transform:uppercase;color:#535e6b}
.table-scroll{overflow-x:auto}
"""


def endpoints(document: dict[str, Any]) -> list[dict[str, str]]:
    """Every operation of the document: method, full path, summary, and its link."""
    found = []
    for path, operations in sorted(document.get("paths", {}).items()):
        for method, operation in operations.items():
            found.append({"method": method.upper(), "path": PREFIX + path,
                          "summary": str(operation.get("summary", ""))})
    return found


def index(document: dict[str, Any]) -> dict[str, Any]:
    """The JSON index of /api/v1/: what the API is, its endpoints, where the docs are."""
    info = document.get("info", {})
    return {"title": info.get("title"), "version": info.get("version"),
            "description": info.get("description"), "openapi": f"{PREFIX}/openapi.json",
            "reference": f"{PREFIX}/docs", "endpoints": endpoints(document)}


def _schema_text(schema: dict[str, Any]) -> str:
    parts = [str(schema.get("type", ""))]
    if "enum" in schema:
        parts.append("one of " + ", ".join(map(str, schema["enum"])))
    if "default" in schema:
        parts.append(f"default {schema['default']}")
    if "minimum" in schema or "maximum" in schema:
        parts.append(f"{schema.get('minimum', '')}..{schema.get('maximum', '')}")
    return "; ".join(p for p in parts if p)


def _parameters(parameters: list[dict[str, Any]]) -> Markup:
    if not parameters:
        return Markup("<p>No parameters.</p>")
    rows = "".join(
        Markup("<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>").format(
            p.get("name"), Markup(" <strong>required</strong>") if p.get("required") else "",
            p.get("in", ""), _schema_text(p.get("schema", {})), p.get("description", ""))
        for p in parameters)
    return Markup('<div class="table-scroll"><table><thead><tr><th>Parameter</th><th>In</th>'
                  "<th>Type</th><th>Meaning</th></tr></thead><tbody>{}</tbody></table></div>"
                  ).format(Markup(rows))


def reference_page(document: dict[str, Any]) -> str:
    """The API reference as one self-contained HTML page (no script, no external file)."""
    info = document.get("info", {})
    sections = []
    for path, operations in sorted(document.get("paths", {}).items()):
        for method, operation in operations.items():
            sections.append(Markup(
                '<section class="endpoint" id="{anchor}"><h2><span class="method">{method}'
                "</span><code>{path}</code></h2><p>{summary}</p>{description}{params}</section>"
            ).format(anchor=f"{method}{path}".replace("/", "-").strip("-"),
                     method=method.upper(), path=PREFIX + path,
                     summary=operation.get("summary", ""),
                     description=Markup("<p>{}</p>").format(operation["description"])
                     if operation.get("description") else "",
                     params=_parameters(operation.get("parameters", []))))
    return str(Markup(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{title} reference</title><style>{style}</style></head><body><main>"
        "<h1>{title}</h1><p>{description}</p><p>Version {version}. Machine-readable: "
        '<a href="{prefix}/openapi.json">OpenAPI document</a> · '
        '<a href="{prefix}/">endpoint index (JSON)</a>. Endpoints with a '
        "<code>format</code> parameter also answer CSV; errors are JSON "
        '<code>{{"error": {{"parameter", "message"}}}}</code>.</p>{sections}</main></body></html>'
    ).format(title=info.get("title", "API"), style=Markup(STYLE),
             description=info.get("description", ""), version=info.get("version", ""),
             prefix=PREFIX, sections=Markup("").join(sections)))

