"""Reading Dash component trees in tests: walk them, find by id or class, collect text."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def walk(node: Any) -> Iterator[Any]:
    """Every component below ``node`` (itself included), depth first."""
    if isinstance(node, (list, tuple)):
        for child in node:
            yield from walk(child)
        return
    if not hasattr(node, "_prop_names"):
        return
    yield node
    yield from walk(getattr(node, "children", None))


def by_id(tree: Any, component_id: Any) -> Any:
    """The one component with ``component_id``."""
    found = [c for c in walk(tree) if getattr(c, "id", None) == component_id]
    assert len(found) == 1, f"{component_id!r} found {len(found)} times"
    return found[0]


def with_class(tree: Any, name: str) -> list[Any]:
    """Components whose className contains the word ``name``."""
    return [c for c in walk(tree) if name in (getattr(c, "className", None) or "").split()]


def text_of(node: Any) -> str:
    """All strings below ``node``, joined by spaces."""
    if isinstance(node, str):
        return node
    if isinstance(node, (int, float)):
        return str(node)
    if isinstance(node, (list, tuple)):
        return " ".join(text_of(c) for c in node)
    if hasattr(node, "_prop_names"):
        return text_of(getattr(node, "children", None))
    return ""
