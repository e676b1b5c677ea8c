"""Small helpers every connector shares: where a location points, one-line errors, checks,
and bounded JSON parsing."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests

from connectors.base import CheckResult, SourceFormatError
from connectors.retry import (
    RETRY_STATUS,
    Retryable,
    call_with_retries,
    current_policy,
    retry_after_seconds,
    session,
)


def is_url(location: str) -> bool:
    """Whether ``location`` is an http(s) URL rather than a file path."""
    return location.lower().startswith(("http://", "https://"))


def one_line(error: object) -> str:
    """An error (or any text) on one line, at most 300 characters."""
    return " ".join(str(error).split())[:300]


MAX_JSON_DEPTH = 64
"""How deep JSON documents may nest arrays and objects (GeoJSON MultiPolygons need 8): a
deeper one is refused before it is parsed, so no parser nor later code recurses on it."""
# A JSON string once escaped backslashes and quotes are gone; an unterminated one runs to
# the end (so the scan stays linear).
_JSON_STRING = re.compile(rb'"[^"]*(?:"|\Z)')
_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def json_nesting_exceeds(data: bytes | bytearray | str, limit: int) -> bool:
    """Whether JSON text nests arrays or objects more than ``limit`` deep (strings skipped).

    A scan at C speed, before parsing: the brackets outside strings are kept and the
    innermost pairs removed ``limit`` times; a pair left over is one level too many.
    Unbalanced text is not judged here (the parser refuses it)."""
    raw = _utf8(data)
    if b"\\" in raw:  # escaped backslashes, then escaped quotes, which end no string
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = _JSON_STRING.sub(b"", raw).translate(_SQUARE, _NOT_BRACKETS)
    for _ in range(limit):
        inner = brackets.replace(b"[]", b"")
        if len(inner) == len(brackets):
            return False  # empty, or only unbalanced brackets left
        brackets = inner
    return b"[]" in brackets


def _utf8(data: bytes | bytearray | str) -> bytes:
    """JSON text as UTF-8 bytes (bytes in UTF-16 or UTF-32 re-encoded)."""
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass")
    encoding = json.detect_encoding(data)
    if encoding.startswith("utf-8"):
        return bytes(data)
    try:
        return data.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return bytes(data)  # the parser says what is wrong with it


def load_json(data: bytes | bytearray | str, where: str) -> Any:
    """Parse a JSON document; a one-line SourceFormatError naming ``where`` when it is not
    valid JSON or nests deeper than ``MAX_JSON_DEPTH``."""
    deep = f"{where}: not valid JSON: nested deeper than {MAX_JSON_DEPTH} levels"
    if json_nesting_exceeds(data, MAX_JSON_DEPTH):
        raise SourceFormatError(deep)
    try:
        return json.loads(data)
    except RecursionError:  # not expected after the scan; kept as the last guard
        raise SourceFormatError(deep) from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise SourceFormatError(f"{where}: not valid JSON: {one_line(error)}") from None


def file_check(location: str) -> CheckResult:
    """The ``check()`` answer for a file location: whether the file exists."""
    found = Path(location).is_file()
    return CheckResult(found, f"{location}: {'file found' if found else 'no such file'}")


def http_check(url: str, *, timeout: float, params: Mapping[str, Any] | None = None,
               headers: Mapping[str, str] | None = None, auth: Any = None,
               error_text: Callable[[requests.RequestException], str] = one_line,
               failure_detail: Callable[[requests.Response], str] | None = None,
               label: str | None = None) -> CheckResult:
    """The ``check()`` answer for a URL: whether one GET answers below HTTP 400.

    ``error_text`` words a connection error (e.g. with secrets redacted),
    ``failure_detail`` adds the server's own words to an HTTP error, and ``label`` names
    the source in the message (default: the URL).
    """
    name = label or url
    try:
        response = requests.get(url, params=params, headers=headers, auth=auth, timeout=timeout)
    except requests.RequestException as error:
        return CheckResult(False, f"{name}: {error_text(error)}")
    if response.status_code >= 400:
        detail = failure_detail(response) if failure_detail else ""
        return CheckResult(False, f"{name}: HTTP {response.status_code} {detail}".strip())
    return CheckResult(True, f"{name}: HTTP {response.status_code}")


def _no_detail(_response: requests.Response) -> str:
    return ""


def _as_is(text: str) -> str:
    return text


def get_with_retries(
    url: str,
    *,
    timeout: float,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    auth: Any = None,
    error_detail: Callable[[requests.Response], str] = _no_detail,
    redact: Callable[[str], str] = _as_is,
) -> requests.Response:
    """GET ``url`` on this thread's session, retrying connection errors, timeouts and
    429/5xx under the connectors' one retry policy (``connectors.retry``); then
    ConnectionError. Other 4xx answers fail at once (a wrong URL or key does not heal),
    with ``error_detail`` of the answer; ``redact`` removes secrets from every message."""
    policy = current_policy()

    def attempt() -> requests.Response:
        try:
            response = session().get(url, params=dict(params or {}),
                                     headers=dict(headers or {}), auth=auth, timeout=timeout)
        except requests.RequestException as error:
            raise Retryable(redact(f"{type(error).__name__}: {error}")) from error
        if response.status_code in RETRY_STATUS:
            raise Retryable(f"HTTP {response.status_code}",
                            retry_after_seconds(response.headers.get("Retry-After")))
        if response.status_code >= 400:
            detail = redact(error_detail(response))
            raise ConnectionError(f"{url}: HTTP {response.status_code} {detail}".strip())
        return response

    try:
        return call_with_retries(attempt, policy)
    except Retryable as error:
        raise ConnectionError(f"{url}: unreachable after {policy.attempts} tries "
                              f"({one_line(error)})") from None


def response_text(response: requests.Response) -> str:
    """The start of an error answer's body, on one line."""
    return " ".join(response.text.split())[:200]
