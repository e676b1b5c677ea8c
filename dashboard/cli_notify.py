"""``citylens briefing send``, ``citylens notify run`` and ``citylens notify log``: the
briefing now (or rendered to a PDF without sending), a notifier round, and the delivery
log."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from dashboard.settings import get_settings

briefing_app = typer.Typer(no_args_is_help=True, help="The users' scheduled briefings.")
notify_app = typer.Typer(no_args_is_help=True,
                         help="Subscriptions' notifications and the delivery log.")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _engine() -> Any:
    from dashboard.store import get_engine

    return get_engine(get_settings().resolved_database_url)


def _renderer() -> Any:
    from dashboard.notify.renderer import installed_renderer

    renderer = installed_renderer()
    if renderer is None:
        _fail("no briefing renderer: run this through the citylens command")
    return renderer


@briefing_app.command("send")
def send(
    user: Annotated[str | None, typer.Option(help="Only this user (default: every user "
                                                  "whose briefing is on).")] = None,
    frequency: Annotated[str | None, typer.Option(
        help="daily | weekly | monthly (default: the user's own).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Render only, send nothing (with --user and --out).")] = False,
    out: Annotated[Path | None, typer.Option(help="Write the PDF here.")] = None,
) -> None:
    """Send a briefing now (outside the schedule), or render one to a PDF (--dry-run)."""
    from sqlalchemy import select

    from dashboard.briefing import FREQUENCIES
    from dashboard.model import User
    from dashboard.notify.briefings import queue_briefing_now, render_for
    from dashboard.notify.deliveries import send_due

    settings, engine, renderer = get_settings(), _engine(), _renderer()
    if frequency is not None and frequency not in FREQUENCIES:
        _fail("--frequency must be daily, weekly or monthly")
    if dry_run or out is not None:
        if user is None:
            _fail("--dry-run and --out render one user's briefing: give --user")
        try:
            rendered = render_for(engine, settings, renderer, user, frequency)
        except (LookupError, PermissionError, ValueError) as error:
            _fail(str(error))
        target = out or settings.var_dir / f"briefing-{user}.pdf"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(rendered.pdf)
        typer.echo(f"{rendered.subject}: {len(rendered.pdf):,} bytes of PDF in {target}")
        if dry_run:
            return
    from dashboard.notify.briefings import briefing_sender

    with engine.connect() as conn:
        names = [user] if user else list(conn.execute(
            select(User.username).where(User.disabled.is_(False), User.briefing != "off",
                                        User.email.is_not(None))
            .order_by(User.username)).scalars())
    now = settings.current_time()
    queued = []
    for name in names:
        try:
            queued.append(queue_briefing_now(engine, settings, name, now,
                                             frequency))
        except (LookupError, ValueError) as error:
            _fail(str(error))
    counts = send_due(engine, settings, now, {"briefing": briefing_sender(engine, renderer)},
                      only=queued)
    typer.echo(f"briefings: {counts['sent']} sent, {counts['retrying']} to try again, "
               f"{counts['failed']} failed (citylens notify log)")
    if counts["sent"] < len(queued):
        raise typer.Exit(1)


@notify_app.command("run")
def run(loop: Annotated[bool, typer.Option(
        help="Keep running every CITYLENS_NOTIFY_EVERY_SECONDS.")] = False) -> None:
    """One notifier round: SLA breaches and KPI crossings noticed, events matched,
    messages gathered and sent, due briefings sent (for a city without the loop or the
    task queue, from cron)."""
    from dashboard.notify.cycle import notify_once
    from dashboard.notify.renderer import installed_renderer

    settings, engine = get_settings(), _engine()
    while True:
        typer.echo(notify_once(engine, settings, installed_renderer()).line())
        if not loop:
            return
        time.sleep(settings.notify_every_seconds)


@notify_app.command("log")
def log(
    user: Annotated[str | None, typer.Option(help="Only this user's messages.")] = None,
    status: Annotated[str | None, typer.Option(
        help="pending | sending | sent | retrying | failed")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The delivery log: every message by e-mail or webhook, its tries and last error."""
    from dashboard.queries.notifications import delivery_log

    rows = delivery_log(get_settings(), user=user, status=status, limit=limit)
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    for row in rows:
        error = f"  {row['last_error']}" if row["last_error"] else ""
        typer.echo(f"{row['created_at'][:19]}  {row['username']:<16} {row['kind']:<8} "
                   f"{row['channel']:<7} {row['destination']:<28} {row['status']:<8} "
                   f"tries {row['attempts']}{error}")
