"""A user marks their own in-app notifications read or unread."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from sqlalchemy import bindparam, update

from dashboard.auth.users import Principal
from dashboard.model import Notification
from dashboard.settings import Settings
from dashboard.store import get_engine


def mark_read(settings: Settings, who: Principal, ids: Iterable[int] | None = None, *,
              read: bool = True, now: datetime | None = None) -> int:
    """Mark ``who``'s notifications of ``ids`` (None: all of them) read (or unread);
    another user's ids are ignored. Returns how many changed."""
    if not who.signed_in:
        raise PermissionError("sign in to read notifications")
    stmt = update(Notification).where(Notification.username == who.username)
    params = {}
    if ids is not None:
        params["ids"] = [int(i) for i in ids]
        if not params["ids"]:
            return 0
        stmt = stmt.where(Notification.id.in_(bindparam("ids", expanding=True)))
    stmt = stmt.where(Notification.read_at.is_(None) if read
                      else Notification.read_at.is_not(None))
    moment = (now or datetime.now(timezone.utc)) if read else None
    with get_engine(settings.resolved_database_url).begin() as conn:
        return int(conn.execute(stmt.values(read_at=moment), params).rowcount)
