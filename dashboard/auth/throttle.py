"""Sign-in throttling: growing delays per account, per client address and per pair.

Every attempt must first take a turn on three counters, kept in the store so that every
worker and machine sees the same ones:

- the pair (account, address): a few free tries, then delays that double up to 15 min;
- the address, whatever account it tries: many free tries (a town hall's staff share one
  address), then the same doubling delays, so one address cannot try many accounts;
- the account, from any address: many free tries, then delays capped at one minute, so an
  attacker spread over many addresses tries one password a minute at most, while nobody can
  keep the owner out for longer than that.

A turn is taken with a compare-and-set ``UPDATE``, so parallel attempts never check more
passwords than the counters allow. A counter is forgotten after a quiet spell; a correct
password clears the pair's and the account's, and only gives the address back its turn (one
good account must not buy an address more guesses at others).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dashboard.model import SignInThrottle

T = SignInThrottle


@dataclass(frozen=True)
class Policy:
    """How many attempts are free, the first delay after them (doubling each further
    attempt, up to ``cap``), and how long a quiet counter lasts before it is forgotten."""

    free: int
    first_delay: timedelta
    cap: timedelta
    forget_after: timedelta

    def delay(self, attempts: int) -> timedelta:
        """The wait before the attempt that follows ``attempts`` earlier ones."""
        if attempts < self.free:
            return timedelta(0)
        doublings = min(attempts - self.free, 20)
        factor: int = 2**doublings  # int ** int is typed Any (a negative power is a float)
        return min(self.first_delay * factor, self.cap)


PAIR = Policy(free=5, first_delay=timedelta(seconds=30), cap=timedelta(minutes=15),
              forget_after=timedelta(hours=1))
ADDRESS = Policy(free=30, first_delay=timedelta(seconds=30), cap=timedelta(minutes=15),
                 forget_after=timedelta(hours=1))
ACCOUNT = Policy(free=20, first_delay=timedelta(seconds=10), cap=timedelta(minutes=1),
                 forget_after=timedelta(hours=1))


def keys(username: str, address: str) -> list[tuple[str, Policy]]:
    """The counters one attempt by ``username`` from ``address`` takes a turn on."""
    return [(f"pair:{username}|{address}", PAIR), (f"addr:{address}", ADDRESS),
            (f"user:{username}", ACCOUNT)]


def take_turn(engine: Engine, username: str, address: str, now: datetime) -> bool:
    """Take a turn on every counter of this attempt; False (check no password) when any of
    them is still waiting or another attempt took the same turn first."""
    return all(_take(engine, key, policy, now) for key, policy in keys(username, address))


def _take(engine: Engine, key: str, policy: Policy, now: datetime) -> bool:
    """One counter's turn: read it, then a conditional UPDATE that only succeeds if nobody
    changed it since (each statement its own transaction: no lock held between them)."""
    with engine.begin() as conn:
        _ensure_row(conn, key)
    with engine.connect() as conn:
        row = conn.execute(select(T.attempts, T.last_attempt_at).where(T.key == key)).one()
    attempts, last = int(row.attempts), row.last_attempt_at
    if last is not None and now - last > policy.forget_after:
        attempts = 0
    elif last is not None and now < last + policy.delay(attempts):
        return False
    unchanged = and_(T.key == key, T.attempts == row.attempts,
                     T.last_attempt_at.is_(None) if last is None else T.last_attempt_at == last)
    with engine.begin() as conn:
        done = conn.execute(update(T).where(unchanged)
                            .values(attempts=attempts + 1, last_attempt_at=now))
    return done.rowcount == 1


def _ensure_row(conn: Connection, key: str) -> None:
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(insert(T).values(key=key, attempts=0, last_attempt_at=None)
                 .on_conflict_do_nothing(index_elements=["key"]))


def clear_after_success(conn: Connection, username: str, address: str) -> None:
    """A correct password: forget the pair's and the account's counters, and give the
    address back the turn it took (a success is no guess, but it does not wipe the
    address's failures at other accounts either)."""
    pair, address_key, account = (key for key, _policy in keys(username, address))
    conn.execute(delete(T).where(T.key.in_([pair, account])))
    conn.execute(update(T).where(T.key == address_key, T.attempts > 0)
                 .values(attempts=T.attempts - 1))


def account_waits_until(conn: Connection, username: str, now: datetime) -> datetime | None:
    """When the account's own counter (all addresses) next allows an attempt, if later than
    ``now`` (for administrators; never shown to whoever signs in)."""
    row = conn.execute(select(T.attempts, T.last_attempt_at)
                       .where(T.key == f"user:{username}")).first()
    if row is None or row.last_attempt_at is None:
        return None
    until = row.last_attempt_at + ACCOUNT.delay(int(row.attempts))
    return until if until > now else None
