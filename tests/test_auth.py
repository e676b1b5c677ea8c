"""Users, passwords, sign-in with lock-out, the audit log and their command line, on
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
from dashboard.auth.users import (
    ANONYMOUS,
    LOCK_MINUTES,
    MAX_FAILURES,
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


def test_sign_in_locks_out_after_repeated_failures(store: Engine) -> None:
    who = authenticate(store, " ANA ", PASSWORD, NOW)
    assert who == Principal("ana", "department_head", (WASTE,), ("d-01",))
    assert who.signed_in and not ANONYMOUS.signed_in
    for attempt in range(1, MAX_FAILURES):
        with pytest.raises(SignInError, match="Wrong username or password"):
            authenticate(store, "ana", "wrong password", NOW + timedelta(seconds=attempt))
    with pytest.raises(SignInError, match="locked for"):
        authenticate(store, "ana", "wrong password", NOW + timedelta(minutes=1))
    # even the right password is refused while locked; the lock ends by itself
    with pytest.raises(SignInError, match="locked until"):
        authenticate(store, "ana", PASSWORD, NOW + timedelta(minutes=LOCK_MINUTES))
    assert authenticate(store, "ana", PASSWORD,
                        NOW + timedelta(minutes=LOCK_MINUTES + 2)).username == "ana"
    # failures below the limit are counted, and forgotten after a success
    with pytest.raises(SignInError):
        authenticate(store, "mayor", "nope", NOW)
    with store.connect() as conn:
        assert {u["username"]: u["failed_attempts"] for u in list_users(conn)} == {
            "ana": 0, "mayor": 1}
    authenticate(store, "mayor", PASSWORD, NOW)
    with store.connect() as conn:
        assert {u["username"]: u["failed_attempts"] for u in list_users(conn)}["mayor"] == 0
    # unknown users get the same answer as a wrong password
    with pytest.raises(SignInError, match="Wrong username or password"):
        authenticate(store, "nobody", PASSWORD, NOW)


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
