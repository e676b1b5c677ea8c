"""``citylens opendata export`` and ``citylens opendata status``: the bulk files of the open
datasets (docs/opendata.md)."""
from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from dashboard.settings import get_settings

opendata_app = typer.Typer(no_args_is_help=True,
                           help="Open data: bulk files and their DCAT-AP catalogue.")


@opendata_app.command("export")
def export(
    dataset: Annotated[list[str] | None, typer.Option(
        help="Only this dataset (repeatable); default: all.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Export even what has not changed since the last export.")] = False,
) -> None:
    """Export the datasets whose data changed since their last export (under the store's
    lease: nothing happens while another process exports)."""
    from dashboard.opendata import DATASETS, export_once
    from dashboard.store import get_engine

    unknown = [name for name in dataset or [] if name not in DATASETS]
    if unknown:
        typer.echo(f"error: unknown dataset {unknown[0]!r}; choose from "
                   f"{', '.join(DATASETS)}", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    done = export_once(get_engine(settings.resolved_database_url), settings, dataset, force)
    typer.echo(done.line())
    if not done.ran:
        raise typer.Exit(1)


@opendata_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Each dataset's last export: when, rows, files and their sizes."""
    from dashboard.opendata.export import manifests

    found = [(d.name, m) for d, m in manifests(get_settings())]
    if as_json:
        payload = {name: m.model_dump(mode="json") if m else None for name, m in found}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    for name, manifest in found:
        if manifest is None:
            typer.echo(f"{name:<17} never exported")
            continue
        size = sum(f.size for f in manifest.files)
        typer.echo(f"{name:<17} {manifest.exported_at:%Y-%m-%d %H:%M}Z  {manifest.rows:>12,} "
                   f"rows  {len(manifest.files)} files  {size:,} bytes  "
                   f"{manifest.start or '-'} .. {manifest.end or '-'}")
