"""A named lease in the store: one holder at a time until it expires, so several
schedulers (or a scheduler and the one-box loop) never run the same job at once, and a
holder that died gives it up by expiring."""
from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError

from dashboard.model import Lease
from dashboard.store.upsert import upsert


def holder_name() -> str:
    """This process: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def take_lease(engine: Engine, name: str, holder: str, now: datetime,
               hold_for: timedelta) -> bool:
    """Take (or renew) lease ``name`` for ``holder`` until ``now + hold_for``; False while
    another holder's has not expired."""
    until = now + hold_for
    with engine.begin() as conn:
        taken = conn.execute(update(Lease).where(
            Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now))
            .values(holder=holder, expires_at=until)).rowcount
        if taken:
            return True
    try:
        with engine.begin() as conn:  # the first time: made, unless another made it first
            upsert(conn, Lease, [{"name": name, "holder": holder, "expires_at": until}],
                   update=False)
            return bool(conn.execute(select(Lease.holder).where(Lease.name == name)
                                     ).scalar() == holder)
    except IntegrityError:
        return False


def give_up_lease(engine: Engine, name: str, holder: str, now: datetime) -> None:
    """End ``holder``'s lease now (others may take it at once)."""
    with engine.begin() as conn:
        conn.execute(update(Lease).where(Lease.name == name, Lease.holder == holder)
                     .values(expires_at=now))
