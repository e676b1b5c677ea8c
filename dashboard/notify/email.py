"""E-mail through the city's SMTP server (``CITYLENS_SMTP_*``): a plain-text body with an
HTML alternative, inline images (``cid:``) and attachments."""
from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid

from dashboard.settings import Settings


class EmailNotConfigured(Exception):
    """No SMTP host is configured."""


def build_message(settings: Settings, to: str, subject: str, text: str, html: str | None,
                  *, images: Mapping[str, bytes] | None = None,
                  attachments: Mapping[str, tuple[str, bytes]] | None = None) -> EmailMessage:
    """The message: ``images`` maps a cid name (``<img src="cid:NAME">``) to PNG bytes;
    ``attachments`` maps a file name to (MIME type, bytes)."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="citylens")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    message.set_content(text)
    if html is not None:
        cids = {name: make_msgid(domain="citylens") for name in images or {}}
        for name, cid in cids.items():
            html = html.replace(f"cid:{name}", f"cid:{cid[1:-1]}")
        message.add_alternative(html, subtype="html")
        body = message.get_body(preferencelist=("html",))
        assert isinstance(body, EmailMessage)  # the alternative just added
        for name, data in (images or {}).items():
            body.add_related(data, maintype="image", subtype="png", cid=cids[name],
                             disposition="inline",
                             filename=f"{name}.png")
    for filename, (mime, data) in (attachments or {}).items():
        maintype, subtype = mime.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


def send_message(settings: Settings, message: EmailMessage) -> None:
    """Send through the configured SMTP server; EmailNotConfigured without one, and
    smtplib's / the socket's errors as they come."""
    if not settings.smtp_host:
        raise EmailNotConfigured("no SMTP server configured (CITYLENS_SMTP_HOST)")
    timeout = settings.smtp_timeout_seconds
    server: smtplib.SMTP
    if settings.smtp_tls == "ssl":
        server = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout,
                                  context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with server:
        if settings.smtp_tls == "starttls":
            server.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            server.login(settings.smtp_user, settings.smtp_password)
        server.send_message(message)


def valid_address(address: str) -> str:
    """The address if it reads as one mailbox (``name@domain``); ValueError otherwise."""
    address = address.strip()
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, HeaderParseError) as error:
        raise ValueError(f"not an e-mail address: {address!r}") from error
    if not parsed.domain or "." not in parsed.domain or len(address) > 320:
        raise ValueError(f"not an e-mail address: {address!r}")
    return address
