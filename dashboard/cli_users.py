"""``citylens users ...`` and ``citylens audit``: user management and the audit log."""
from __future__ import annotations

import json
import sys
from typing import Annotated, Any, NoReturn

import typer

from dashboard.settings import get_settings

users_app = typer.Typer(no_args_is_help=True, help="Who may sign in, in which role.")


def _engine() -> Any:
    from dashboard.store import get_engine, init_store

    engine = get_engine(get_settings().resolved_database_url)
    init_store(engine)
    return engine


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Username (a-z, 0-9, '.', '_', '-', '@').")],
    role: Annotated[str, typer.Option(help="department_head, official or admin.")],
    department: Annotated[list[str] | None, typer.Option(
        help="A department of the service catalogue (repeat for several).")] = None,
    district: Annotated[list[str] | None, typer.Option(
        help="A district id the department head defaults to (repeat for several).")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input (required).")] = False,
) -> None:
    """Add a user; the password is read from standard input, never from the command line."""
    from dashboard.auth.users import add_user
    from dashboard.store import unit_of_work

    if not password_stdin:
        _fail("give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        with unit_of_work(_engine()) as conn:
            add_user(conn, name, role, password, departments=department or [],
                     districts=district or [])
    except ValueError as error:
        _fail(str(error))
    typer.echo(f"added {name.strip().lower()} ({role})")


@users_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every user: role, departments, districts, disabled or waiting after failed sign-ins
    (never the hash)."""
    from dashboard.auth.users import list_users

    with _engine().connect() as conn:
        users = list_users(conn)
    if as_json:
        sys.stdout.write(json.dumps(users, indent=2, ensure_ascii=False) + "\n")
        return
    for user in users:
        state = "disabled" if user["disabled"] else (
            f"sign-in waits until {user['sign_in_waits_until']}"
            if user["sign_in_waits_until"] else "active")
        bound = ", ".join(user["departments"] + user["districts"])
        typer.echo(f"{user['username']:<24} {user['role']:<16} {state:<10} {bound}".rstrip())


@users_app.command("set")
def set_(
    name: Annotated[str, typer.Argument()],
    email: Annotated[str | None, typer.Option(
        help="Where briefings and e-mail notifications go ('' removes it).")] = None,
    language: Annotated[str | None, typer.Option(help="en | es")] = None,
    briefing: Annotated[str | None, typer.Option(
        help="daily | weekly | monthly | off")] = None,
) -> None:
    """Set a user's e-mail address, language and briefing frequency."""
    from dashboard.auth.users import load_principal
    from dashboard.notify.subscriptions import set_preferences

    with _engine().connect() as conn:
        who = load_principal(conn, name.strip().lower())
    if who is None:
        _fail(f"no user {name!r}")
    try:
        set_preferences(get_settings(), who, email=email, language=language,
                        briefing=briefing)
    except ValueError as error:
        _fail(str(error))
    typer.echo(f"updated {who.username}")


@users_app.command("disable")
def disable(name: Annotated[str, typer.Argument()]) -> None:
    """Disable a user: no more sign-ins, and open sessions end at their next request."""
    from dashboard.auth.users import disable_user
    from dashboard.store import unit_of_work

    try:
        with unit_of_work(_engine()) as conn:
            disable_user(conn, name)
    except KeyError:
        _fail(f"no user {name!r}")
    typer.echo(f"disabled {name}")


def audit(
    citizen: Annotated[str | None, typer.Option(help="Only reads of this citizen id.")] = None,
    user: Annotated[str | None, typer.Option(help="Only reads by this user.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Who read which citizen's personal record, when and why (newest first)."""
    from dashboard.auth.audit import entries

    with _engine().connect() as conn:
        found = entries(conn, citizen=citizen, user=user, limit=limit)
    if as_json:
        sys.stdout.write(json.dumps(found, indent=2, ensure_ascii=False) + "\n")
        return
    for e in found:
        typer.echo(f"{e['time']}  {e['username']} ({e['role']})  {e['action']}  "
                   f"{e['subject']}  \"{e['reason']}\"")
