"""``citylens worker`` and ``citylens scheduler``: run the configured sources on a task
queue (``connectors.queue``), across as many worker processes and machines as needed."""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated

import typer

from dashboard.settings import get_settings

SourcesFile = Annotated[str, typer.Option("--config", help="Sources file.")]


def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Sources run at once by this "
                                                         "worker (processes).")] = 2,
    pool: Annotated[str, typer.Option(help="Celery pool: prefork, or solo (one run in the "
                                           "worker process itself).")] = "prefork",
    name: Annotated[str, typer.Option(help="Worker name (default: citylens-PID@host).")] = "",
) -> None:
    """Run sources sent by the scheduler (a Celery worker on CITYLENS_BROKER_URL, queue
    CITYLENS_QUEUE). Start several, on one machine or many; a source never runs twice at
    once, and a killed worker's run is delivered again."""
    from connectors.queue import configure
    from dashboard.store import get_engine

    settings = get_settings()
    get_engine(settings.resolved_database_url).dispose()  # an empty store is created now
    app = configure(settings)
    name = name or f"citylens-{os.getpid()}@{socket.gethostname()}"
    app.worker_main(["worker", f"--concurrency={concurrency}", f"--pool={pool}",
                     f"--queues={settings.queue}", f"--hostname={name}", "--loglevel=INFO",
                     "--without-gossip", "--without-mingle", "--without-heartbeat"])


def scheduler(config: SourcesFile = "data/sources.yaml") -> None:
    """Send each enabled source of the sources file to the workers on its schedule
    (``every_minutes`` or ``cron``, in CITYLENS_TIMEZONE): Celery beat. Run one."""
    from celery.apps.beat import Beat

    from connectors.base import SourceFormatError
    from connectors.queue import beat_schedule, configure
    from connectors.sources import load_sources

    settings = get_settings()
    try:
        entries = load_sources(Path(config))
    except SourceFormatError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    app = configure(settings, beat_schedule(entries, Path(config)))
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    typer.echo(f"scheduling {sum(e.enabled for e in entries)} sources of {config} on "
               f"{settings.queue}")
    Beat(app=app, schedule=str(settings.var_dir / "scheduler-state"), loglevel="INFO",
         max_interval=30).run()
