"""API keys for apps that post to the Open311 server (``citylens apikeys``).

A key is 32 random bytes (URL-safe text), shown once when issued; the store keeps only its
SHA-256, so a copy of the database holds no usable key. A high-entropy random key needs no
slow password hash: checking is one indexed lookup, in constant time against the digest.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Connection, insert, select, update

from dashboard.model import ApiKey

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")


@dataclass(frozen=True)
class KeyInfo:
    """A key as listed: never the key itself."""

    name: str
    created_at: datetime
    revoked_at: datetime | None


def digest(key: str) -> str:
    """The SHA-256 (hex) the store keeps of ``key``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def issue_key(conn: Connection, name: str) -> str:
    """A new key for app ``name`` (ValueError: a bad or taken name); returned once."""
    if not NAME.match(name):
        raise ValueError(f"key name {name!r}: letters, digits, spaces, '.', '_' or '-', "
                         "at most 100")
    if conn.execute(select(ApiKey.name).where(ApiKey.name == name)).first():
        raise ValueError(f"there is already a key named {name!r} (revoke it, or pick "
                         "another name)")
    key = secrets.token_urlsafe(32)
    conn.execute(insert(ApiKey).values(name=name, key_hash=digest(key),
                                       created_at=datetime.now(timezone.utc)))
    return key


def key_owner(conn: Connection, key: str | None) -> str | None:
    """The name of the app whose live key ``key`` is (None: no key, unknown or revoked)."""
    if not key or len(key) > 200:
        return None
    wanted = digest(key)
    row = conn.execute(select(ApiKey.name, ApiKey.key_hash)
                       .where(ApiKey.key_hash == wanted, ApiKey.revoked_at.is_(None))).first()
    if row is None or not secrets.compare_digest(row.key_hash, wanted):
        return None
    return str(row.name)


def revoke_key(conn: Connection, name: str) -> bool:
    """Revoke app ``name``'s key; False when it has none that is live."""
    done = conn.execute(update(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
                        .values(revoked_at=datetime.now(timezone.utc)))
    return bool(done.rowcount)


def list_keys(conn: Connection) -> list[KeyInfo]:
    """Every key issued, by name."""
    rows = conn.execute(select(ApiKey.name, ApiKey.created_at, ApiKey.revoked_at)
                        .order_by(ApiKey.name))
    return [KeyInfo(row.name, row.created_at, row.revoked_at) for row in rows]
