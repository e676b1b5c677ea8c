"""The demo city through the connectors: the core writes its feeds as a city's systems would
export them (``dashboard.demo``), the connectors ingest them like any city's sources."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select

from connectors.sources import load_sources, run_entry
from dashboard.demo import DemoSummary
from dashboard.demo import generate_demo as write_demo
from dashboard.model import Quarantine
from dashboard.settings import Settings


def ingest_feeds(engine: Engine, settings: Settings, path: Path,
                 progress: Callable[[str], None]) -> None:
    """Run every source of the demo's ``sources.yaml``; any quarantine or failure is a bug
    of the generator or a connector, so it stops the demo with the reasons."""
    for entry in load_sources(path):
        report = run_entry(engine, settings, entry)
        progress(f"{entry.id}: {report.stored:,} of {report.records_in:,} records stored "
                 f"in {report.seconds:.1f} s")
        if report.status != "ok":
            with engine.connect() as conn:
                reasons = conn.execute(select(Quarantine.reason).where(
                    Quarantine.run_id == report.run_id).limit(3)).scalars().all()
            raise RuntimeError(f"demo source {entry.id} ended {report.status}: "
                               f"{report.error or '; '.join(reasons)}")


def generate_demo(engine: Engine, settings: Settings, *, scale: str = "tiny", seed: int = 7,
                  end: datetime | None = None,
                  progress: Callable[[str], None] | None = None) -> DemoSummary:
    """The demo city of ``scale`` generated and ingested (see ``dashboard.demo``)."""
    return write_demo(engine, settings, ingest=ingest_feeds, scale=scale, seed=seed, end=end,
                      progress=progress)
