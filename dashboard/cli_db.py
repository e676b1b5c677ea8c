"""``citylens db``: the store's schema revision, and upgrading it (Alembic migrations)."""
from __future__ import annotations

import typer

from dashboard.settings import get_settings

db_app = typer.Typer(add_completion=False, no_args_is_help=True,
                     help="The store's schema: its revision, and upgrading it.")


@db_app.command("upgrade")
def upgrade() -> None:
    """Bring the store to this CityLens's schema (creates an empty one; a store from before
    migrations is recognised and kept, row for row). Run it after every upgrade of CityLens,
    with the web workers and connectors stopped."""
    from dashboard.store import make_engine
    from dashboard.store.schema import describe, head_revision, upgrade_store

    url = get_settings().resolved_database_url
    engine = make_engine(url)
    started = upgrade_store(engine)
    if started == head_revision():
        typer.echo(f"Already up to date: {describe(engine)}")
    else:
        typer.echo(f"Upgraded from {started or 'an empty store'} to {head_revision()}: "
                   f"{engine.url.render_as_string(hide_password=True)}")
    engine.dispose()


@db_app.command("current")
def current() -> None:
    """Print the store's revision and the one this CityLens needs (exit 1 if they differ)."""
    from dashboard.store import make_engine
    from dashboard.store.schema import current_revision, describe, head_revision

    engine = make_engine(get_settings().resolved_database_url)
    typer.echo(describe(engine))
    with engine.connect() as conn:
        behind = current_revision(conn) != head_revision()
    engine.dispose()
    if behind:
        raise typer.Exit(1)


@db_app.command("maintain")
def maintain() -> None:
    """Keep the store in shape; run it daily (the scheduler does). PostgreSQL: creates the
    observations' monthly partitions ahead (CITYLENS_PARTITIONS_AHEAD_MONTHS) and moves
    readings that waited in the default partition into their month. With
    CITYLENS_RAW_RETENTION_MONTHS set, drops raw readings older than that (whole partitions
    on PostgreSQL), keeping every rollup and KPI."""
    from dashboard.store import get_engine
    from dashboard.store.partitions import maintain_store

    settings = get_settings()
    for line in maintain_store(get_engine(settings.resolved_database_url), settings).lines():
        typer.echo(line)
