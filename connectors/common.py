"""Small helpers every connector shares: where a location points, one-line errors, checks."""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from connectors.base import CheckResult


def is_url(location: str) -> bool:
    """Whether ``location`` is an http(s) URL rather than a file path."""
    return location.lower().startswith(("http://", "https://"))


def one_line(error: object) -> str:
    """An error (or any text) on one line, at most 300 characters."""
    return " ".join(str(error).split())[:300]


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


RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def _no_detail(_response: requests.Response) -> str:
    return ""


def _as_is(text: str) -> str:
    return text


def get_with_retries(
    url: str,
    *,
    delays: Sequence[float],
    timeout: float,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    auth: Any = None,
    error_detail: Callable[[requests.Response], str] = _no_detail,
    redact: Callable[[str], str] = _as_is,
) -> requests.Response:
    """GET ``url``, retrying connection errors, timeouts and 429/5xx after each of ``delays``;
    then ConnectionError. Other 4xx answers fail at once (a wrong URL or key does not heal),
    with ``error_detail`` of the answer; ``redact`` removes secrets from every message."""
    problem = ""
    for attempt in range(len(delays) + 1):
        if attempt:
            time.sleep(delays[attempt - 1])
        try:
            response = requests.get(url, params=dict(params or {}), headers=dict(headers or {}),
                                    auth=auth, timeout=timeout)
        except requests.RequestException as error:
            problem = redact(f"{type(error).__name__}: {error}")
            continue
        if response.status_code in RETRY_STATUS:
            problem = f"HTTP {response.status_code}"
            continue
        if response.status_code >= 400:
            detail = redact(error_detail(response))
            raise ConnectionError(f"{url}: HTTP {response.status_code} {detail}".strip())
        return response
    raise ConnectionError(f"{url}: unreachable after {len(delays) + 1} tries ({one_line(problem)})")


def response_text(response: requests.Response) -> str:
    """The start of an error answer's body, on one line."""
    return " ".join(response.text.split())[:200]
