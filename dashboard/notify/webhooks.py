"""Webhooks: the address a user gives is checked when saved and again when used, so a
subscription cannot make CityLens call into the city's own network (SSRF): https only, to
public addresses, unless the host is listed in ``CITYLENS_WEBHOOK_ALLOWED_HOSTS``; no
credentials in the address; redirects are not followed."""
from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests

from dashboard.settings import Settings

MAX_URL = 500


class DeliveryError(Exception):
    """A message could not be delivered; ``permanent`` ones are not tried again."""

    def __init__(self, problem: str, *, permanent: bool = False) -> None:
        super().__init__(problem)
        self.permanent = permanent


def _allowed_host(host: str, settings: Settings) -> bool:
    return host.lower() in {h.lower() for h in settings.webhook_allowed_hosts}


def check_webhook_url(url: str, settings: Settings) -> str:
    """The address, stripped, if a webhook may be sent there; ValueError (one line) if not."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise ValueError(f"webhook address longer than {MAX_URL} characters")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError("webhook address must be an https:// URL")
    if parts.username or parts.password:
        raise ValueError("webhook address must not carry a user name or password")
    if _allowed_host(host, settings):
        return url
    if parts.scheme != "https":
        raise ValueError("webhook address must be https:// (plain http only for the hosts "
                         "in CITYLENS_WEBHOOK_ALLOWED_HOSTS)")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        if host.lower() == "localhost" or host.lower().endswith((".localhost", ".local")):
            raise ValueError(f"webhook host {host} is not a public address") from None
        return url
    if not literal.is_global:
        raise ValueError(f"webhook host {host} is not a public address")
    return url


def _resolves_public(host: str, port: int) -> None:
    """Refuse a host that resolves to any private, loopback or link-local address."""
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as error:
        raise DeliveryError(f"webhook host {host} does not resolve: {error}") from None
    for *_, address in found:
        if not ipaddress.ip_address(address[0]).is_global:
            raise DeliveryError(f"webhook host {host} resolves to a non-public address",
                                permanent=True)


def webhook_host(url: str) -> str:
    """What the delivery log shows of a webhook: its host (the path may hold a secret)."""
    return urlsplit(url).hostname or "?"


def post_webhook(url: str, body: dict[str, Any], settings: Settings) -> None:
    """POST ``body`` as JSON; DeliveryError on refusal (4xx: permanent, but 408 and 429)
    or failure (5xx, network: tried again later)."""
    try:
        url = check_webhook_url(url, settings)
    except ValueError as error:
        raise DeliveryError(str(error), permanent=True) from None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not _allowed_host(host, settings):
        _resolves_public(host, parts.port or 443)
    try:
        response = requests.post(url, json=body, timeout=settings.webhook_timeout_seconds,
                                 allow_redirects=False,
                                 headers={"User-Agent": "CityLens notifications"})
    except requests.RequestException as error:
        raise DeliveryError(f"webhook {host}: {type(error).__name__}") from None
    if response.status_code < 300:
        return
    permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
    raise DeliveryError(f"webhook {host} answered {response.status_code}", permanent=permanent)
