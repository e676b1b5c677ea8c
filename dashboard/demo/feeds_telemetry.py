"""Sensor telemetry of the demo city as CSV logs, one per asset type: a row per sensor and
time, a column per metric, local times with their UTC offset (what a platform's
historical export looks like), and the mapping that reads it back."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import yaml

from dashboard.demo.assets import AssetGroup

ID_COLUMN, TIME_COLUMN = "entity_id", "observed_at"


def local_iso(times: np.ndarray, zone: ZoneInfo) -> dict[int, str]:
    """Each distinct epoch second as local ISO 8601 with its offset (``+02:00``)."""
    return {int(t): datetime.fromtimestamp(int(t), zone).isoformat() for t in np.unique(times)}


class TelemetryExport:
    """Writes readings of every asset type to ``<folder>/<Type>.csv``.

    Readings come as the generator's frames, keyed by ``asset_pk``: here a position in
    :meth:`positions`, which this export turns back into each asset's URN.
    """

    def __init__(self, folder: Path, groups: Sequence[AssetGroup], timezone: str) -> None:
        self.folder = folder
        self.zone = ZoneInfo(timezone)
        self.groups = [g for g in groups if g.telemetry]
        self.urns = np.array([i for g in groups for i in g.ids], dtype=object)
        self.offsets: dict[str, int] = {}
        self.type_of = np.empty(len(self.urns), dtype=object)
        start = 0
        for group in groups:
            self.offsets[group.type.type] = start
            self.type_of[start:start + group.size] = group.type.type
            start += group.size
        self.handles: dict[str, IO[str]] = {}
        self.rows = 0
        for group in self.groups:  # every log exists, even one whose sensors all stayed silent
            self._handle(group)

    def positions(self) -> dict[str, np.ndarray]:
        """The ``pks`` to generate readings with: each asset's position in this export."""
        return {g.type.type: np.arange(g.size, dtype=np.int64) + self.offsets[g.type.type]
                for g in self.groups}

    def _handle(self, group: AssetGroup) -> IO[str]:
        name = group.type.type
        if name not in self.handles:
            handle = (self.folder / f"{name}.csv").open("w", encoding="utf-8", newline="")
            handle.write(",".join([ID_COLUMN, TIME_COLUMN, *group.type.metrics]) + "\n")
            self.handles[name] = handle
        return self.handles[name]

    def write(self, frame: pd.DataFrame) -> None:
        """Append a frame of readings (asset_pk, metric, time, value, unit)."""
        kinds = self.type_of[frame["asset_pk"].to_numpy()]
        stamps = local_iso(frame["time"].to_numpy(), self.zone)
        for group in self.groups:
            part = frame[kinds == group.type.type]
            if part.empty:
                continue
            wide = (part.pivot(index=["time", "asset_pk"], columns="metric", values="value")
                    .reindex(columns=list(group.type.metrics)).reset_index())
            out = pd.DataFrame({ID_COLUMN: self.urns[wide["asset_pk"].to_numpy()],
                                TIME_COLUMN: wide["time"].map(stamps)})
            for metric in group.type.metrics:
                out[metric] = wide[metric]
            out.to_csv(self._handle(group), header=False, index=False, na_rep="",
                       lineterminator="\n")
            self.rows += len(out)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()

    def sources(self) -> list[dict[str, Any]]:
        """A csv source per asset type, with the mapping written beside its log."""
        entries = []
        for group in self.groups:
            kind = group.type
            mapping = {
                "entity": "observations", "type": kind.type, "domain": kind.domain,
                "columns": {"id": ID_COLUMN, "time": TIME_COLUMN},
                "metrics": [{"metric": m, "column": m, "unit": u, "optional": True}
                            for m, u in kind.metrics.items()],
            }
            path = self.folder / f"{kind.type}.yaml"
            path.write_text("# Written by the demo generator: reads " + f"{kind.type}.csv\n"
                            + yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
            entries.append({"id": f"demo-telemetry-{kind.type}", "kind": "csv",
                            "location": str(self.folder / f"{kind.type}.csv"),
                            "mapping": str(path)})
        return entries
