"""``citylens apikeys ...``: the keys apps post Open311 service requests with."""
from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from dashboard.cli_users import _engine, _fail

apikeys_app = typer.Typer(no_args_is_help=True,
                          help="API keys for apps that post to the Open311 server.")


@apikeys_app.command("add")
def add(name: Annotated[str, typer.Argument(help="The app's name, e.g. 'CitySourced'.")]
        ) -> None:
    """Issue a key for an app; it is printed once (keep it: the store has only its hash)."""
    from dashboard.auth.api_keys import issue_key

    try:
        with _engine().begin() as conn:
            key = issue_key(conn, name)
    except ValueError as error:
        _fail(str(error))
    typer.echo(key)
    typer.echo(f"api_key for {name!r}: give it to the app; it is not shown again.", err=True)


@apikeys_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The app's name.")]) -> None:
    """Revoke an app's key: its posts are refused from now on."""
    from dashboard.auth.api_keys import revoke_key

    with _engine().begin() as conn:
        if not revoke_key(conn, name):
            _fail(f"no live key named {name!r}")
    typer.echo(f"revoked the key of {name!r}")


@apikeys_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The keys issued (names and dates, never the keys)."""
    from dashboard.auth.api_keys import list_keys

    with _engine().connect() as conn:
        keys = list_keys(conn)
    if as_json:
        sys.stdout.write(json.dumps([{"name": k.name, "created_at": k.created_at.isoformat(),
                                      "revoked_at": k.revoked_at.isoformat()
                                      if k.revoked_at else None} for k in keys]) + "\n")
        return
    for k in keys:
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "live"
        typer.echo(f"{k.name:30} issued {k.created_at:%Y-%m-%d}  {state}")
