"""The NGSI-LD query language (``q``, ETSI GS CIM 009 clause 4.9): a small recursive-descent
parser into a tree of terms, and its evaluation against one entity (normalized form).

Grammar (``;`` binds tighter than ``|``; parentheses group)::

    query   := and ('|' and)*
    and     := primary (';' primary)*
    primary := '(' query ')' | term
    term    := path [op value]         path := name ('.' name | '[' name ']')*
    op      := == | != | > | >= | < | <= | ~= | !~=

``==``/``!=`` take a value, a list ``a,b,c`` or a range ``a..b``; ``~=``/``!~=`` a regular
expression (quoted, or bare up to ``;``, ``|`` or ``)``). Values are numbers, quoted text,
``true``/``false``, date-times (compared as times) or bare words and URIs (text). A path
goes into an attribute: ``a.observedAt`` reads its sub-attribute, ``a.b`` or ``a[b]`` a
member of its value. GeoProperties (``location``) are queried with ``georel``, not ``q``.
Every syntax problem is a ``QueryError`` naming the position.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Union

MAX_QUERY = 2000  # characters of q
MAX_PATTERN = 200  # characters of one regular expression
MAX_DEPTH = 20  # nesting of parentheses
OPERATORS = ("!~=", "==", "!=", ">=", "<=", "~=", ">", "<")  # longest first
GEO_ATTRIBUTES = frozenset({"location"})
_NAME = re.compile(r"[A-Za-z0-9_@#:\-]+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A quantified group that holds a quantifier ((a+)+, (a|aa)*...): catastrophic backtracking.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{?]")


class QueryError(ValueError):
    """A query that cannot be parsed; the message says what and where."""


@dataclass(frozen=True)
class Range:
    """``low..high``, both ends included."""

    low: Any
    high: Any


@dataclass(frozen=True)
class Term:
    """``path`` alone (the attribute exists) or ``path op value``."""

    path: tuple[str, ...]
    op: str | None = None
    value: Any = None  # a value, a tuple of values, a Range or a compiled pattern


@dataclass(frozen=True)
class Logical:
    """Terms joined by ``and`` (``;``) or ``or`` (``|``)."""

    op: str
    parts: tuple[Node, ...]


Node = Union[Term, Logical]


def compile_pattern(text: str, what: str) -> re.Pattern[str]:
    """A regular expression from a request, refused when long, invalid or prone to
    catastrophic backtracking (a public endpoint runs it)."""
    if len(text) > MAX_PATTERN:
        raise QueryError(f"{what}: regular expression longer than {MAX_PATTERN} characters")
    if _NESTED_QUANTIFIER.search(text):
        raise QueryError(f"{what}: nested quantifiers such as (a+)+ are not accepted")
    try:
        return re.compile(text)
    except re.error as error:
        raise QueryError(f"{what}: invalid regular expression ({error})") from None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.pos, self.depth = text, 0, 0

    def fail(self, message: str) -> QueryError:
        return QueryError(f"q: {message} at position {self.pos} of {self.text!r}")

    def peek(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def query(self) -> Node:
        parts = [self.conjunction()]
        while self.peek("|"):
            self.pos += 1
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Logical("or", tuple(parts))

    def conjunction(self) -> Node:
        parts = [self.primary()]
        while self.peek(";"):
            self.pos += 1
            parts.append(self.primary())
        return parts[0] if len(parts) == 1 else Logical("and", tuple(parts))

    def primary(self) -> Node:
        if not self.peek("("):
            return self.term()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"parentheses nested deeper than {MAX_DEPTH}")
        self.pos += 1
        node = self.query()
        if not self.peek(")"):
            raise self.fail("missing ')'")
        self.pos += 1
        self.depth -= 1
        return node

    def name(self) -> str:
        found = _NAME.match(self.text, self.pos)
        if found is None:
            raise self.fail("expected an attribute name")
        self.pos = found.end()
        return found.group()

    def path(self) -> tuple[str, ...]:
        parts = [self.name()]
        while self.peek(".") or self.peek("["):
            bracket = self.peek("[")
            self.pos += 1
            parts.append(self.name())
            if bracket:
                if not self.peek("]"):
                    raise self.fail("missing ']'")
                self.pos += 1
        return tuple(parts)

    def term(self) -> Term:
        path = self.path()
        if path[0] in GEO_ATTRIBUTES:
            raise self.fail(f"{path[0]!r} is a GeoProperty: query it with georel, not q")
        op = next((o for o in OPERATORS if self.peek(o)), None)
        if op is None:
            if not (self.at_end() or self.text[self.pos] in ";|)"):
                raise self.fail("expected an operator (==, !=, >, >=, <, <=, ~=, !~=)")
            return Term(path)
        self.pos += len(op)
        if op in ("~=", "!~="):
            return Term(path, op, compile_pattern(self.pattern(), "q"))
        first = self.value()
        if op not in ("==", "!="):
            return Term(path, op, first)
        if self.peek(".."):
            self.pos += 2
            return Term(path, op, Range(first, self.value()))
        values = [first]
        while self.peek(","):
            self.pos += 1
            values.append(self.value())
        return Term(path, op, first if len(values) == 1 else tuple(values))

    def pattern(self) -> str:
        if self.peek('"'):
            return str(self.quoted())
        start, depth = self.pos, 0
        while not self.at_end():
            char = self.text[self.pos]
            if char == "\\":
                self.pos += 1
            elif char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            elif char in ";|" and depth == 0:
                break
            self.pos += 1
        if self.pos == start:
            raise self.fail("expected a regular expression")
        return self.text[start:self.pos]

    def quoted(self) -> str:
        end = self.pos + 1
        while end < len(self.text) and self.text[end] != '"':
            end += 2 if self.text[end] == "\\" else 1
        if end >= len(self.text):
            raise self.fail("unterminated quoted text")
        raw = self.text[self.pos + 1:end]
        self.pos = end + 1
        return re.sub(r"\\(.)", r"\1", raw)

    def value(self) -> Any:
        if self.peek('"'):
            return self.quoted()
        start = self.pos
        while not self.at_end() and self.text[self.pos] not in ";|),\"" and not self.peek(".."):
            self.pos += 1
        token = self.text[start:self.pos]
        if not token:
            raise self.fail("expected a value")
        return _bare(token)


def _bare(token: str) -> Any:
    """An unquoted value: a number, a boolean, a date-time, or text (URIs, words)."""
    if _NUMBER.fullmatch(token):
        return float(token)
    if token in ("true", "false"):
        return token == "true"
    moment = as_time(token) if _DATE.match(token) else None
    return moment if moment is not None else token


def as_time(text: str) -> datetime | None:
    """An ISO date or date-time as aware UTC (naive: UTC); None if it is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def parse_q(text: str) -> Node:
    """The query tree of ``q``; QueryError when it is not one."""
    if len(text) > MAX_QUERY:
        raise QueryError(f"q: longer than {MAX_QUERY} characters")
    parser = _Parser(text)
    node = parser.query()
    if not parser.at_end():
        raise parser.fail("unexpected " + repr(text[parser.pos]))
    return node


# --- evaluation ---------------------------------------------------------------------

_MISSING = object()


def _target(entity: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """What ``path`` names in a normalized entity, or ``_MISSING``."""
    attr = entity.get(path[0], _MISSING)
    rest = path[1:]
    if isinstance(attr, Mapping) and attr.get("type") in ("Property", "Relationship"):
        if rest and rest[0] in attr and rest[0] not in ("value", "object", "type"):
            node, rest = attr[rest[0]], rest[1:]  # a sub-attribute: observedAt, unitCode...
        else:
            node = attr.get("value", attr.get("object", _MISSING))
    elif isinstance(attr, Mapping):
        return _MISSING  # a GeoProperty (georel's) or something that is no attribute
    else:
        node = attr
    for key in rest:
        node = node.get(key, _MISSING) if isinstance(node, Mapping) else _MISSING
    return node


def _compare(target: Any, op: str, value: Any) -> bool:
    if isinstance(target, list):
        return any(_compare(t, op, value) for t in target)
    if isinstance(value, bool) or isinstance(target, bool):
        return op == "==" and target is value
    if isinstance(value, float):
        if not isinstance(target, (int, float)) or not math.isfinite(target):
            return False
        left: Any = float(target)
    elif isinstance(value, datetime):
        left = as_time(target) if isinstance(target, str) else None
        if left is None:
            return False
    elif isinstance(value, str) and isinstance(target, str):
        left = target
    else:
        return False
    result: bool = {"==": left == value, ">": left > value, ">=": left >= value,
                    "<": left < value, "<=": left <= value}[op]
    return result


def _equal(target: Any, value: Any) -> bool:
    if isinstance(value, Range):
        return _compare(target, ">=", value.low) and _compare(target, "<=", value.high)
    if isinstance(value, tuple):
        return any(_compare(target, "==", v) for v in value)
    return _compare(target, "==", value)


def _matches_pattern(target: Any, pattern: re.Pattern[str]) -> bool:
    if isinstance(target, list):
        return any(_matches_pattern(t, pattern) for t in target)
    return isinstance(target, str) and pattern.search(target) is not None


def matches(node: Node, entity: Mapping[str, Any]) -> bool:
    """Whether the normalized ``entity`` satisfies the query tree ``node``."""
    if isinstance(node, Logical):
        found = (matches(part, entity) for part in node.parts)
        return all(found) if node.op == "and" else any(found)
    target = _target(entity, node.path)
    if target is _MISSING or target is None:
        return False
    if node.op is None:
        return True
    if node.op == "==":
        return _equal(target, node.value)
    if node.op == "!=":
        return not _equal(target, node.value)
    if node.op == "~=":
        return _matches_pattern(target, node.value)
    if node.op == "!~=":
        return not _matches_pattern(target, node.value)
    return _compare(target, node.op, node.value)
