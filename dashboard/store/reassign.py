"""Re-assign located things to districts after the boundaries change, and rebuild the
rollups of the assets that moved (an admin-time operation, never a page view)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, bindparam, delete, insert, select, text, update

from dashboard.geo import DistrictIndex
from dashboard.model import NO_DISTRICT, Alert, Asset, Rollup, ServiceRequest
from dashboard.store.frames import rows_frame
from dashboard.store.observations import day_starts
from dashboard.store.partitions import kept_from
from dashboard.store.request_rollups import rebuild_request_rollups
from dashboard.store.version import bump_data_version

ASSET_CHUNK = 200
OBSERVATIONS_OF_ASSETS = text(
    "SELECT asset_pk, time, value FROM observations WHERE asset_pk IN :pks AND metric = :metric"
).bindparams(bindparam("pks", expanding=True))


@dataclass(frozen=True)
class Reassigned:
    """How many things changed district, and which rollup metrics were rebuilt."""

    assets: int
    service_requests: int
    rollup_metrics: tuple[str, ...]


def _moved(
    conn: Connection, table: type[Asset | ServiceRequest], key: str, index: DistrictIndex
) -> pd.DataFrame:
    frame = rows_frame(
        conn.execute(
            select(getattr(table, key), table.lat, table.lon, table.district_id)
            .where(table.lat.is_not(None), table.lon.is_not(None))
        ),
        ["key", "lat", "lon", "old"],
    )
    if frame.empty:
        return frame.assign(new=[])
    frame["new"] = index.assign(frame["lat"].tolist(), frame["lon"].tolist())
    return frame[frame["old"].fillna("") != frame["new"].fillna("")]


def rebuild_rollups(conn: Connection, tz: str, metrics: set[str]) -> None:
    """Recompute the hour and day rollups of ``metrics`` ("Type.attribute") from raw rows.
    Buckets that begin before the raw readings kept (``partitions.kept_from``: the retention
    dropped older ones) stay as they are."""
    raw_from = kept_from(conn)
    for rkey in sorted(metrics):
        asset_type, metric = rkey.split(".", 1)
        assets = rows_frame(
            conn.execute(select(Asset.pk, Asset.district_id).where(Asset.type == asset_type)),
            ["asset_pk", "district"],
        )
        assets["district"] = assets["district"].fillna(NO_DISTRICT)
        parts: list[pd.DataFrame] = []
        for start in range(0, len(assets), ASSET_CHUNK):
            chunk = assets.iloc[start:start + ASSET_CHUNK]
            rows = rows_frame(conn.execute(OBSERVATIONS_OF_ASSETS, {
                "pks": chunk["asset_pk"].tolist(), "metric": metric,
            }), ["asset_pk", "time", "value"])
            if rows.empty:
                continue
            rows = rows.merge(chunk, on="asset_pk")
            times = rows["time"].to_numpy()
            rows["hour"], rows["day"] = times - times % 3600, day_starts(times, tz)
            for grain in ("hour", "day"):
                whole = rows[rows[grain] >= raw_from]
                parts.append(
                    whole.groupby(["district", grain]).agg(
                        count=("value", "size"), sum=("value", "sum"),
                        min=("value", "min"), max=("value", "max"),
                    ).reset_index().rename(columns={grain: "bucket"}).assign(grain=grain)
                )
        conn.execute(delete(Rollup).where(Rollup.metric == rkey, Rollup.bucket >= raw_from))
        if not parts:
            continue
        combined = pd.concat(parts).groupby(["grain", "bucket", "district"]).agg(
            count=("count", "sum"), sum=("sum", "sum"), min=("min", "min"), max=("max", "max"),
        ).reset_index()
        if combined.empty:
            continue
        conn.execute(insert(Rollup), [
            {"metric": rkey, "grain": g, "bucket": int(b), "district_id": d, "count": int(c),
             "sum": float(s), "min": float(lo), "max": float(hi)}
            for g, b, d, c, s, lo, hi in combined.itertuples(index=False)
        ])


def reassign_districts(conn: Connection, tz: str) -> Reassigned:
    """Assign every located asset and request to the district that now contains it."""
    index = DistrictIndex.load(conn)
    assets = _moved(conn, Asset, "pk", index)
    for pk, new in zip(assets["key"], assets["new"], strict=True):
        conn.execute(update(Asset).where(Asset.pk == int(pk)).values(district_id=new))
        conn.execute(update(Alert).where(Alert.asset_pk == int(pk)).values(district_id=new))
    requests = _moved(conn, ServiceRequest, "id", index)
    if len(requests):
        conn.execute(
            update(ServiceRequest)
            .where(ServiceRequest.id == bindparam("rid"))
            .values(district_id=bindparam("new")),
            [{"rid": r, "new": n} for r, n in zip(requests["key"], requests["new"], strict=True)],
        )
        rebuild_request_rollups(conn, tz, ["requests"])
    metrics: set[str] = set()
    if len(assets):
        moved_types = conn.execute(
            select(Asset.type).where(Asset.pk.in_([int(p) for p in assets["key"]])).distinct()
        ).scalars().all()
        metrics = {
            m for m in conn.execute(select(Rollup.metric).distinct()).scalars()
            if m.split(".", 1)[0] in set(moved_types)
        }
        rebuild_rollups(conn, tz, metrics)
    if len(assets) or len(requests):
        bump_data_version(conn)
    return Reassigned(len(assets), len(requests), tuple(sorted(metrics)))
