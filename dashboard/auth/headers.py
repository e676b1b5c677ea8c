"""Security headers on every answer, with flask-talisman.

- Content-Security-Policy: scripts from the app itself plus the hashes of the page's inline
  scripts (Dash's renderer start and clientside callbacks), no plugins, no framing by other
  sites (``frame-ancestors 'self'``), forms and connections to the app only; images may
  also come from the configured map tile server.
- Permissions-Policy: no camera, microphone, payment or USB for any page; the location
  only for the app's own pages (the report form asks for it when the resident taps "Use
  my location").
- HSTS (a year) when ``CITYLENS_SECURE_COOKIES`` is on (behind HTTPS); no HTTPS redirect
  here, the TLS proxy in front does that.
- nosniff, same-origin referrers, SAMEORIGIN frame options for older browsers.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from urllib.parse import urlsplit

from flask import Flask
from flask_talisman import Talisman

from dashboard.settings import Settings

PERMISSIONS = {feature: "()" for feature in (
    "camera", "microphone", "payment", "usb", "serial", "bluetooth", "interest-cohort",
    "browsing-topics")} | {"geolocation": "(self)"}
YEAR = 365 * 24 * 3600


class _ScriptSources:
    """``script-src``: the app's own files and the hashes of its inline scripts as they are
    now (Talisman joins this on every answer, and Dash adds an inline script at its first
    request)."""

    def __init__(self, hashes: Callable[[], Iterable[str]]) -> None:
        self.hashes = hashes

    def __iter__(self) -> Iterator[str]:
        yield "'self'"
        yield from self.hashes()  # quoted already: 'sha256-...'


def content_security_policy(settings: Settings,
                            hashes: Callable[[], Iterable[str]]) -> dict[str, object]:
    """The CSP of every answer (see the module docstring)."""
    images = ["'self'", "data:", "blob:"]
    if settings.tile_url:
        parts = urlsplit(settings.tile_url.replace("{s}", "a"))
        host = parts.netloc.replace("a.", "*.", 1) if "{s}" in settings.tile_url else parts.netloc
        images.append(f"{parts.scheme}://{host}")
    return {
        "default-src": "'self'",
        "script-src": _ScriptSources(hashes),
        "style-src": ["'self'", "'unsafe-inline'"],  # Plotly and Leaflet set inline styles
        "img-src": images,
        "font-src": ["'self'", "data:"],
        "connect-src": "'self'",
        "worker-src": ["'self'", "blob:"],
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'self'",
    }


def install_headers(server: Flask, settings: Settings,
                    inline_script_hashes: Callable[[], Iterable[str]]) -> Talisman:
    """Send the security headers on every answer of ``server``."""
    return Talisman(
        server,
        force_https=False,
        strict_transport_security=settings.secure_cookies,
        strict_transport_security_max_age=YEAR,
        session_cookie_secure=settings.secure_cookies,
        session_cookie_http_only=True,
        frame_options="SAMEORIGIN",
        referrer_policy="same-origin",
        content_security_policy=content_security_policy(settings, inline_script_hashes),
        permissions_policy=PERMISSIONS,
    )
