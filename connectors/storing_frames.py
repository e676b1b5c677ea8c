"""Store a chunk mapped in one go (``connectors.tabular_frames``), in the caller's
transaction: its assets as any batch's, its observations as one ingest frame."""
from __future__ import annotations

from sqlalchemy import Connection

from connectors.base import Mapped, MappedChunk
from connectors.storing import asset_pks, ingest_with_last_seen, store_batch
from dashboard.settings import Settings


def store_chunk(conn: Connection, settings: Settings, chunk: MappedChunk,
                source_id: str | None = None) -> int:
    """Store a mapped chunk; return how many source rows it held."""
    if not chunk.rows:
        return 0
    _, refused = store_batch(conn, settings, [({}, Mapped(assets=chunk.assets))], source_id)
    if refused:  # the row mapper built these assets: a refusal is a bug, not bad input
        raise RuntimeError(f"the store refused assets of a mapped chunk: {refused[0][1]}")
    frame = chunk.observations
    pks = asset_pks(conn, set(frame["asset_id"].unique()))
    frame = frame.assign(asset_pk=frame["asset_id"].map(pks).astype("int64"))
    ingest_with_last_seen(conn, settings, frame[["asset_pk", "metric", "time", "value", "unit"]])
    return chunk.rows
