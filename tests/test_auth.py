"""Users, passwords, sign-in with throttling, the audit log and their command line, on
SQLite and on the real PostgreSQL server."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, update
from typer.testing import CliRunner

from dashboard.auth import audit
from dashboard.auth.passwords import hash_password, needs_rehash, verify_password
from dashboard.auth.throttle import ACCOUNT, PAIR
from dashboard.auth.users import (
    ANONYMOUS,
    REFUSED,
    Principal,
    SignInError,
    add_user,
    authenticate,
    disable_user,
    list_users,
    load_principal,
)
from dashboard.model import AuditEntry, District, Service, User
from dashboard.store import unit_of_work

NOW = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)
PASSWORD = "correct-horse-battery"
WASTE = "Residuos y Limpieza"


def seed_catalogue(engine: Engine) -> None:
    """One district and one service, so departments and districts can be checked."""
    with unit_of_work(engine) as conn:
        conn.execute(insert(District), [{"id": "d-01", "name": "Uno", "geometry": None,
                                         "population": 10, "area_km2": 1.0}])
        conn.execute(insert(Service), [{"service_code": "bin", "service_name": "Bin full",
                                        "department": WASTE, "sla_hours": 48.0}])


@pytest.fixture
def store(fresh_engine: Engine) -> Engine:
    seed_catalogue(fresh_engine)
    with unit_of_work(fresh_engine) as conn:
        add_user(conn, "Mayor", "official", PASSWORD)
        add_user(conn, "ana", "department_head", PASSWORD, departments=[WASTE],
                 districts=["d-01"])
    return fresh_engine


def test_passwords_are_salted_argon2_hashes() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("$argon2id$") and first != second and PASSWORD not in first
    assert verify_password(first, PASSWORD) and not verify_password(first, PASSWORD + "x")
    assert not verify_password("not a hash", PASSWORD) and needs_rehash("not a hash")


def test_users_are_added_listed_and_checked(store: Engine) -> None:
    with store.connect() as conn:
        users = {u["username"]: u for u in list_users(conn)}
        stored = conn.execute(select(User.password_hash)).scalars().all()
    assert set(users) == {"mayor", "ana"}  # names are lower-cased
    assert users["ana"]["departments"] == [WASTE] and users["ana"]["districts"] == ["d-01"]
    assert all("password" not in key for u in users.values() for key in u)
    assert all(PASSWORD not in h for h in stored)
    bad = [("bob", "mayor", {}, "unknown role"), ("bob", "public", {}, "unknown role"),
           ("bob", "department_head", {}, "needs at least one --department"),
           ("bob", "official", {"departments": [WASTE]}, "only a department head"),
           ("bob", "department_head", {"departments": ["Nope"]}, "unknown department 'Nope'"),
           ("bob", "department_head", {"departments": [WASTE], "districts": ["x"]},
            "unknown district 'x'"),
           ("bob smith", "official", {}, "a username is"), ("mayor", "admin", {}, "exists")]
    for name, role, bindings, message in bad:
        with pytest.raises(ValueError, match=message), unit_of_work(store) as conn:
            add_user(conn, name, role, PASSWORD, **bindings)
    with pytest.raises(ValueError, match="at least 10"), unit_of_work(store) as conn:
        add_user(conn, "bob", "official", "short")


def _refused(store: Engine, username: str, password: str, at: datetime,
             address: str = "10.0.0.1") -> bool:
    try:
        authenticate(store, username, password, at, address)
    except SignInError as refusal:
        assert str(refusal) == REFUSED  # one answer for every refusal
        return True
    return False


def test_sign_in_waits_longer_after_each_failure_from_one_address(store: Engine) -> None:
    who = authenticate(store, " ANA ", PASSWORD, NOW, "10.0.0.1")
    assert who == Principal("ana", "department_head", (WASTE,), ("d-01",))
    assert who.signed_in and not ANONYMOUS.signed_in
    for second in range(PAIR.free):
        assert _refused(store, "ana", "wrong password", NOW + timedelta(seconds=second))
    last = NOW + timedelta(seconds=PAIR.free - 1)
    # now even the right password waits 30 s after the last failure, then 60 s, 120 s...
    assert _refused(store, "ana", PASSWORD, last + timedelta(seconds=29))
    assert _refused(store, "ana", "wrong again", last + timedelta(seconds=30))
    last += timedelta(seconds=30)
    assert _refused(store, "ana", PASSWORD, last + timedelta(seconds=59))
    # meanwhile the same account signs in from another address at once
    assert not _refused(store, "ana", PASSWORD, last + timedelta(seconds=1), "10.9.9.9")
    assert not _refused(store, "ana", PASSWORD, last + timedelta(seconds=60))
    # and a success forgets the pair's failures: five more free tries
    for second in range(PAIR.free):
        assert _refused(store, "ana", "wrong", last + timedelta(seconds=61 + second))
    assert not _refused(store, "ana", PASSWORD, last + timedelta(minutes=5))


def test_many_addresses_delay_an_account_by_a_minute_at_most(store: Engine) -> None:
    at = NOW
    for n in range(ACCOUNT.free + 12):  # a spread-out attacker, each try as soon as allowed
        at += ACCOUNT.delay(n)
        assert _refused(store, "mayor", "guess", at, f"192.0.2.{n}")
    with store.connect() as conn:
        waits = {u["username"]: u["sign_in_waits_until"] for u in list_users(conn, at)}
    assert waits["ana"] is None
    assert datetime.fromisoformat(waits["mayor"]) == at + timedelta(minutes=1)
    assert _refused(store, "mayor", PASSWORD, at + timedelta(seconds=59), "10.0.0.7")
    assert not _refused(store, "mayor", PASSWORD, at + timedelta(seconds=60), "10.0.0.7")


def test_every_refusal_checks_one_password_and_reads_the_same(
        store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unknown user, wrong password, disabled user, an attempt that must wait and an
    absurdly long password: the same message after the same work (one Argon2 check)."""
    from dashboard.auth import users

    checks: list[str] = []
    real = users.verify_password
    monkeypatch.setattr(users, "verify_password",
                        lambda stored, given: checks.append(stored) or real(stored, given))
    for second in range(PAIR.free):
        _refused(store, "mayor", "wrong", NOW + timedelta(seconds=second))
    with unit_of_work(store) as conn:
        disable_user(conn, "ana")
    cases = [("nobody", PASSWORD), ("mayor", "wrong"), ("ana", PASSWORD),
             ("mayor", PASSWORD), ("mayor", "x" * 100_000)]
    for username, password in cases:
        checks.clear()
        assert _refused(store, username, password, NOW + timedelta(seconds=10))
        assert len(checks) == 1, username


def test_parallel_wrong_attempts_check_at_most_the_free_number(
        store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twelve wrong attempts at once: only as many passwords are checked as are free."""
    from concurrent.futures import ThreadPoolExecutor

    from dashboard.auth import users

    with store.connect() as conn:
        real_hash = conn.execute(select(User.password_hash)
                                 .where(User.username == "mayor")).scalar_one()
    checked: list[bool] = []
    real = users.verify_password
    monkeypatch.setattr(users, "verify_password",
                        lambda stored, given: checked.append(stored == real_hash)
                        or real(stored, given))
    with ThreadPoolExecutor(max_workers=12) as pool:
        refused = list(pool.map(lambda _: _refused(store, "mayor", "wrong", NOW), range(12)))
    assert all(refused) and len(checked) == 12
    assert sum(checked) <= PAIR.free


def test_disabled_users_cannot_sign_in_and_lose_their_session(store: Engine) -> None:
    with unit_of_work(store) as conn:
        assert load_principal(conn, "ana") is not None
        disable_user(conn, "ana")
        assert load_principal(conn, "ana") is None
    with pytest.raises(SignInError, match="Wrong username or password"):
        authenticate(store, "ana", PASSWORD, NOW)
    with pytest.raises(KeyError), unit_of_work(store) as conn:
        disable_user(conn, "nobody")


def test_outdated_hashes_are_upgraded_at_sign_in(store: Engine) -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    with unit_of_work(store) as conn:
        conn.execute(update(User).where(User.username == "mayor").values(password_hash=weak))
    authenticate(store, "mayor", PASSWORD, NOW)
    with store.connect() as conn:
        stored = conn.execute(select(User.password_hash)
                              .where(User.username == "mayor")).scalar_one()
    assert stored != weak and not needs_rehash(stored)


def test_the_audit_log_records_who_read_whom_and_why(store: Engine) -> None:
    mayor = Principal("mayor", "official")
    with unit_of_work(store) as conn:
        audit.record(conn, mayor, "view_profile", "c-1", "  Complaint   follow-up ", NOW)
        audit.record(conn, Principal("ana", "department_head", (WASTE,)), "export_profile",
                     "c-2", "Bulky waste pick-up", NOW + timedelta(minutes=5))
    for who, action, subject, reason, message in (
            (ANONYMOUS, "view_profile", "c-1", "curious", "signed-in"),
            (mayor, "view_profile", "c-1", "   ", "give a reason"),
            (mayor, "delete", "c-1", "cleaning up", "unknown audit action"),
            (mayor, "view_profile", "", "a reason", "subject")):
        with pytest.raises(ValueError, match=message), unit_of_work(store) as conn:
            audit.record(conn, who, action, subject, reason, NOW)
    with store.connect() as conn:
        every = audit.entries(conn)
        assert conn.execute(select(AuditEntry.id)).all().__len__() == 2  # refused: none
        assert [e["subject"] for e in every] == ["c-2", "c-1"]  # newest first
        assert every[1]["reason"] == "Complaint follow-up" and every[1]["role"] == "official"
        assert [e["username"] for e in audit.entries(conn, citizen="c-1")] == ["mayor"]
        assert [e["subject"] for e in audit.entries(conn, user="ana")] == ["c-2"]


def test_command_line_users_and_audit(tmp_path: Path) -> None:
    from dashboard.cli import app as cli_app
    from dashboard.store import get_engine

    env = {"CITYLENS_VAR_DIR": str(tmp_path), "CITYLENS_DATABASE_URL": "",
           "CITYLENS_REDIS_URL": ""}
    url = f"sqlite:///{tmp_path / 'citylens.db'}"
    seed_catalogue(get_engine(url))
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
        done = runner.invoke(cli_app, list(args), input=stdin, env=env)
        return done.exit_code, done.output

    code, out = run("users", "add", "ana", "--role", "department_head", "--department", WASTE,
                    "--district", "d-01", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0 and "added ana" in out
    code, out = run("users", "add", "bob", "--role", "official")
    assert code == 2 and "--password-stdin" in out
    code, out = run("users", "add", "bob", "--role", "official", "--password-stdin",
                    stdin="short\n")
    assert code == 2 and "at least 10 characters" in out
    code, out = run("users", "list", "--json")
    assert code == 0 and [u["username"] for u in json.loads(out)] == ["ana"]
    assert PASSWORD not in out and "argon2" not in out
    assert run("users", "disable", "ana")[0] == 0
    code, out = run("users", "list")
    assert "disabled" in out and WASTE in out
    assert run("users", "disable", "nobody")[0] == 2
    with unit_of_work(get_engine(url)) as conn:
        audit.record(conn, Principal("mayor", "official"), "view_profile", "c-9", "A reason",
                     NOW)
    code, out = run("audit", "--citizen", "c-9", "--json")
    assert code == 0 and json.loads(out)[0]["username"] == "mayor"
    assert json.loads(run("audit", "--user", "ana", "--json")[1]) == []
    # where briefings go, in which language, how often (issue 20)
    run("users", "add", "carla", "--role", "official", "--password-stdin",
        stdin=PASSWORD + "\n")
    code, out = run("users", "set", "carla", "--email", "carla@city.example", "--language",
                    "es", "--briefing", "monthly")
    assert code == 0 and "updated carla" in out
    carla = next(u for u in json.loads(run("users", "list", "--json")[1])
                 if u["username"] == "carla")
    assert (carla["email"], carla["language"], carla["briefing"]) == (
        "carla@city.example", "es", "monthly")
    code, out = run("users", "set", "carla", "--email", "carla at city")
    assert code == 2 and out.count("\n") == 1 and "not an e-mail address" in out
    assert run("users", "set", "nobody", "--language", "es")[0] == 2
    assert json.loads(run("notify", "log", "--json")[1]) == []
    code, out = run("briefing", "send", "--user", "carla", "--dry-run")
    assert code == 2 and "no briefing renderer" in out  # the core alone cannot render
