"""``citylens worker`` and ``citylens scheduler``: run the configured sources on a task
queue (``connectors.queue``), across as many worker processes and machines as needed."""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated, Any

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

    from connectors.cli import sources_or_exit
    from connectors.queue import beat_schedule, configure

    settings = get_settings()
    entries = sources_or_exit(config)
    app = configure(settings, beat_schedule(entries, Path(config)))
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    typer.echo(f"scheduling {sum(e.enabled for e in entries)} sources of {config} on "
               f"{settings.queue}")
    Beat(app=app, schedule=str(settings.var_dir / "scheduler-state"), loglevel="INFO",
         max_interval=30).run()


listen_app = typer.Typer(no_args_is_help=True, help="Long-lived listeners.")


def _stop_on_signals() -> None:
    """SIGTERM and Ctrl-C end the listeners cleanly: each commits what it read, leaves."""
    import signal

    from connectors.mqtt import STOP

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: STOP.set())


def _report_line(report: Any) -> str:
    """``telemetry: 300 in, 300 stored, 0 quarantined, ok`` (and the error, if any)."""
    return (f"{report.source}: {report.records_in} in, {report.stored} stored, "
            f"{report.quarantined} quarantined, {report.status}"
            + (f" ({report.error})" if report.error else ""))


@listen_app.command("mqtt")
def listen_mqtt(
    broker: Annotated[str, typer.Option(help="mqtt://HOST:PORT (or mqtts://).")],
    topic: Annotated[list[str], typer.Option(help="Topic filter; repeat for several.")],
    client_id: Annotated[str, typer.Option(
        help="This listener's own stable id (a persistent session: what it had not "
             "committed when it stopped comes to it again).")],
    share: Annotated[str | None, typer.Option(
        help="Shared subscription group: listeners of one group split the messages.")] = None,
    commit_every: Annotated[int, typer.Option(help="Commit after this many messages.")] = 1000,
    commit_ms: Annotated[int, typer.Option(help="... or this long after the oldest "
                                                "uncommitted one (ms).")] = 1000,
    source_id: Annotated[str | None, typer.Option(
        help="Source id of its runs (default mqtt-listen:<client id>).")] = None,
) -> None:
    """Listen to an MQTT broker until stopped (SIGTERM or Ctrl-C: what was read is
    committed and acknowledged first), committing in small batches and acknowledging
    each message only once it is stored."""
    from connectors import get_connector
    from connectors.runner import SourceBusy, run_source
    from dashboard.store import get_engine

    settings = get_settings()
    try:
        connector = get_connector("mqtt")({
            "location": broker, "topics": topic, "client_id": client_id, "share": share,
            "listen": True, "commit_every": commit_every, "commit_ms": commit_ms})
    except ValueError as error:
        typer.echo(f"error: mqtt: {' '.join(str(error).split())}", err=True)
        raise typer.Exit(2) from error
    _stop_on_signals()
    source = source_id or f"mqtt-listen:{client_id}"
    typer.echo(f"{source}: listening to {', '.join(connector.config.subscriptions())}")
    try:
        report = run_source(get_engine(settings.resolved_database_url), settings, connector,
                            source)
    except SourceBusy as busy:
        typer.echo(f"error: {source}: {busy}", err=True)
        raise typer.Exit(1) from busy
    typer.echo(_report_line(report))
    if report.failure:
        raise typer.Exit(1)


@listen_app.command("sources")
def listen_sources(config: SourcesFile = "data/sources.yaml") -> None:
    """Run every enabled listener of the sources file (``listen: true``), each in its own
    thread, until SIGTERM or Ctrl-C (each then commits what it read and leaves)."""
    import threading

    from connectors.cli import sources_or_exit
    from connectors.sources import run_entry
    from dashboard.store import get_engine

    settings = get_settings()
    entries = [e for e in sources_or_exit(config) if e.enabled and e.listens]
    if not entries:
        typer.echo(f"error: {config} has no enabled source with 'listen: true'", err=True)
        raise typer.Exit(2)
    _stop_on_signals()
    engine = get_engine(settings.resolved_database_url)
    reports: list[Any] = []
    threads = [threading.Thread(target=lambda e=entry: reports.append(
        run_entry(engine, settings, e)), name=f"listen-{entry.id}") for entry in entries]
    typer.echo(f"listening: {', '.join(e.id for e in entries)}")
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        for thread in threads:
            thread.join(0.5)
    for report in reports:
        typer.echo(_report_line(report))
    if any(report.failure or report.status == "busy" for report in reports):
        raise typer.Exit(1)
