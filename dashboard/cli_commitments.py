"""``citylens commitments ...``: load the city's commitments from YAML, and list them."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from dashboard.auth import ADMIN
from dashboard.auth.users import Principal
from dashboard.cli_users import _engine, _fail
from dashboard.settings import get_settings

commitments_app = typer.Typer(no_args_is_help=True,
                              help="The city's commitments: projects and pledges, with their "
                                   "progress (shown on /commitments and the kiosk).")
CLI_STAFF = Principal("citylens-cli", ADMIN)  # who the audit log says made the changes


@commitments_app.command("import")
def import_(file: Annotated[Path, typer.Argument(
        help="A YAML file of commitments (see data/commitments.example.yaml).")]) -> None:
    """Create or update the commitments of FILE, all or none (as an administrator)."""
    from dashboard.commitments import import_commitments, read_commitments_file

    _engine()  # the store, at the newest schema
    try:
        saved = import_commitments(get_settings(), CLI_STAFF, read_commitments_file(file))
    except (OSError, ValueError, PermissionError) as error:
        _fail(" ".join(str(error).split()))
    typer.echo(f"imported {len(saved)} commitment{'s' if len(saved) != 1 else ''}: "
               + ", ".join(saved))


@commitments_app.command("list")
def list_(
    district: Annotated[str | None, typer.Option(
        help="A district id: its commitments and the city-wide ones.")] = None,
    department: Annotated[str | None, typer.Option(help="Only this department's.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The commitments: status, % complete, planned end and whether late."""
    from dashboard.queries.commitments import commitments_for

    _engine()
    found = commitments_for(get_settings(), district, department, with_kpis=as_json)
    if as_json:
        sys.stdout.write(json.dumps(found, ensure_ascii=False, default=str) + "\n")
        return
    for item in found:
        late = "  LATE" if item["late"] else ""
        place = item["district_id"] or "whole city"
        typer.echo(f"{item['id']:36} {item['status']:10} {item['percent_complete']:5.0f} %  "
                   f"ends {item['ends_on']}  {item['department']} · {place}{late}")
    if not found:
        typer.echo("no commitments yet: load some with `citylens commitments import FILE`")
