"""The chunk mapper (columnar) against the row mapper: on any rows, both paths give the
same observations, the same assets and the same quarantined rows with the same reasons;
and a large observation export stored through the runner's chunk path."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from connectors.csv_source import CsvConnector
from connectors.runner import run_source
from connectors.tabular import RowMapper, TabularMapping
from connectors.tabular_frames import ChunkMapper, row_dict
from connectors.tabular_values import read_watermark
from dashboard.model import Asset, Observation, Quarantine, Rollup

HEADER = ["sensor", "when", "no2", "pm10", "cap", "lat", "lon", "label"]
BASE = {
    "entity": "observations", "type": "AirQualityObserved", "domain": "environment",
    "namespace": "t", "timezone": "Europe/Madrid",
    "columns": {"id": "sensor", "time": "when", "lat": "lat", "lon": "lon", "name": "label"},
    "attributes": {"capacity": "cap"},
    "metrics": [{"metric": "no2", "column": "no2", "unit": "ugm3"},
                {"metric": "pm10", "column": "pm10", "optional": True},
                {"metric": "ratio", "column": "pm10", "divide_by": "cap", "optional": True,
                 "scale": 100}],
}

def _field(good: list[str], odd: list[str]) -> st.SearchStrategy[str]:
    """Mostly plainly good cells, often odd ones: both paths must agree on each."""
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(odd))


times = _field(
    ["2026-05-01T10:00:00Z", "2026-03-29T01:30:00+01:00", "2026-05-01 10:00:00.250",
     "2026-05-01", "  2026-06-01T00:00:00-04:00 ", "2026-07-01 08:00"],
    ["2026-03-29 02:30", "2026-10-25 02:30:00", "1899-12-31 23:00", "05/01/2026 10:00 AM",
     "yesterday", "", "2026-13-01 00:00", "2026-06-01T12:00:00.1234567",
     "2026-06-01T12:00+0100", "2199-12-31T23:59:59Z", "2200-01-01T00:00:00Z"])
numbers = _field(["1", "2.5", " 3 ", "1e3", "-0", ".5", "5.", "60"],
                 ["", "abc", "inf", "nan", "1,5", "1.000,5", "0", "1e400", "+2", "1 000"])
coordinates = _field(["", "43.46", "-3.80"], ["91", "0", "43,46", "x", "-180.5", "1e1"])
ids = _field(["A", "B", " C ", "urn:x:1"], ["", "D" * 201, "\x00E", "urn:" + "u" * 199])
rows = st.lists(st.tuples(ids, times, numbers, numbers, numbers, coordinates, coordinates,
                          st.sampled_from(["", "Plaza", "x" * 250]),
                          st.sampled_from([0, 0, 0, -1, 1])), max_size=30)


def _cells(row: tuple[Any, ...]) -> list[str]:
    cells = list(row[:8])
    if row[8] < 0:
        return cells[:5]  # a short row
    if row[8] > 0:
        return [*cells, "surplus"]  # more cells than the header
    return cells


def _by_rows(mapper: RowMapper, raw: list[dict[str, Any]], after: Any):
    observations, assets, bad, cursors = set(), {}, {}, []
    for row in raw:
        if after is not None:
            try:
                cursor = mapper.cursor_value(row)
            except ValueError:
                cursor = None
            if cursor is not None and cursor <= after:
                continue
        try:
            mapped = mapper.map(row)
        except ValueError as error:
            bad[row["#row"]] = str(error)
            continue
        cursors.append(mapped.cursor)
        for asset in mapped.assets:
            assets[asset["id"]] = asset
        observations |= {(o["asset_id"], o["metric"], int(o["time"].timestamp()),
                          round(o["value"], 9), o["unit"]) for o in mapped.observations}
    return observations, assets, bad, max(filter(None, cursors), default=None)


def _by_chunks(mapper: RowMapper, lines: list[int], cells: list[list[str]], after: Any):
    chunk = ChunkMapper(mapper).map_chunk(HEADER, lines, cells, after)
    rest = _by_rows(mapper, chunk.leftovers, None)
    frame = chunk.observations
    observations = set(rest[0])
    if chunk.rows:
        observations |= {(a, m, int(t), round(v, 9), u) for a, m, t, v, u in frame.itertuples(
            index=False, name=None)}
    assets = {a["id"]: a for a in chunk.assets}
    assets.update(rest[1])
    cursor = max(filter(None, [chunk.cursor, rest[3]]), default=None)
    return observations, assets, rest[2], cursor


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(rows=[("A", "2026-05-01T10:00:00Z", "1", "", "abc", "", "", "", 0)],  # bad divisor,
         watermark=None, decimal=".")  # blank optional value: the row mapper refuses it
@given(rows=rows, watermark=st.sampled_from([None, "2026-05-01T10:00:00.000000Z"]),
       decimal=st.sampled_from([".", ","]))
def test_chunk_and_row_mappers_agree_on_any_rows(rows, watermark, decimal) -> None:
    mapping = TabularMapping.model_validate({**BASE, "decimal": decimal})
    mapper = RowMapper(mapping)
    cells = [_cells(r) for r in rows]
    lines = list(range(2, len(cells) + 2))
    after = read_watermark(watermark, "time")
    raw = [row_dict(HEADER, n, c) for n, c in zip(lines, cells, strict=True)]
    by_rows = _by_rows(mapper, raw, after)
    by_chunks = _by_chunks(mapper, lines, cells, after)
    assert by_chunks[0] == by_rows[0]  # observations
    assert by_chunks[2] == by_rows[2]  # quarantined rows and their reasons
    # Assets: the same ids; each asset as built from a good row of it.
    assert by_chunks[1].keys() == by_rows[1].keys()
    assert by_chunks[3] == by_rows[3]  # the newest cursor (the run's next watermark)


def _export(path: Path, count: int) -> None:
    lines = [",".join(HEADER)]
    for i in range(count):
        moment = datetime.fromtimestamp(1_780_000_000 + 600 * i, timezone.utc)
        sensor = f"S{i % 7}"
        value = "oops" if i % 1000 == 500 else f"{(i % 50) / 2}"
        lines.append(f"{sensor},{moment.isoformat()},{value},{i % 30},60,43.46,-3.80,{sensor}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_large_export_is_stored_in_chunks_with_bad_rows_quarantined(
        fresh_engine, settings, tmp_path, monkeypatch) -> None:
    import yaml

    monkeypatch.setattr("connectors.csv_source.CHUNK_ROWS", 1_000)
    export, mapping = tmp_path / "air.csv", tmp_path / "air.yaml"
    _export(export, 5_000)
    mapping.write_text(yaml.safe_dump(BASE), encoding="utf-8")
    connector = CsvConnector({"location": str(export), "mapping": str(mapping)})
    report = run_source(fresh_engine, settings, connector, "air")
    assert (report.status, report.records_in, report.quarantined) == ("partial", 5_000, 5)
    assert report.stored == 4_995
    with fresh_engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(Observation)).scalar()
        # no2 and pm10 on every good row, the ratio too (cap 60): three metrics a row.
        assert stored == 3 * 4_995
        assert conn.execute(select(func.count()).select_from(Asset)).scalar() == 7
        reasons = conn.execute(select(Quarantine.reason)).scalars().all()
        assert all("no2" in r and "'oops'" in r for r in reasons)
        hours = conn.execute(select(func.sum(Rollup.count)).where(
            Rollup.grain == "hour", Rollup.district_id == "",
            Rollup.metric == "AirQualityObserved.no2")).scalar()
        assert hours == 4_995  # rollups follow the chunk path too
        ratio = conn.execute(select(Observation.value).where(
            Observation.metric == "ratio").limit(1)).scalar()
        assert math.isclose(ratio, 0 / 60 * 100)
    again = run_source(fresh_engine, settings, connector, "air")
    assert (again.records_in, again.stored) == (0, 0)  # the watermark: nothing new
    full = run_source(fresh_engine, settings, connector, "air", full=True)
    assert full.stored == 4_995
    with fresh_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Observation)).scalar() == 3 * 4_995


@pytest.mark.parametrize("path_kind", ["chunks", "rows"])
def test_both_paths_store_the_same_city(fresh_engine, settings, tmp_path, monkeypatch,
                                        path_kind) -> None:
    import yaml

    if path_kind == "rows":
        monkeypatch.setattr("connectors.csv_source.CsvStream.read_chunks",
                            lambda self, watermark, plausible=None: None)
    export, mapping = tmp_path / "air.csv", tmp_path / "air.yaml"
    _export(export, 2_000)
    mapping.write_text(yaml.safe_dump(BASE), encoding="utf-8")
    report = run_source(fresh_engine, settings,
                        CsvConnector({"location": str(export), "mapping": str(mapping)}), "air")
    assert (report.records_in, report.stored, report.quarantined) == (2_000, 1_998, 2)
    with fresh_engine.connect() as conn:
        total = conn.execute(select(func.sum(Observation.value))).scalar()
        seen = conn.execute(select(func.max(Asset.last_seen))).scalar()
    assert math.isclose(total, _expected_sum(2_000))
    assert seen.replace(tzinfo=timezone.utc) == datetime.fromtimestamp(
        1_780_000_000 + 600 * 1_999, timezone.utc)


def _expected_sum(count: int) -> float:
    total = 0.0
    for i in range(count):
        if i % 1000 == 500:
            continue
        total += (i % 50) / 2 + (i % 30) + (i % 30) / 60 * 100
    return total


@pytest.mark.parametrize("path_kind", ["chunks", "rows"])
def test_implausible_rows_of_a_large_export_are_quarantined(
        fresh_engine, settings, tmp_path, monkeypatch, path_kind) -> None:
    """Rows dated in year 9999 or 1900, or with a reading outside its plausible range,
    leave the chunk mapper for the row mapper and are quarantined with their reasons; the
    watermark is the newest stored row's, on both paths."""
    import yaml

    monkeypatch.setattr("connectors.csv_source.CHUNK_ROWS", 1_000)
    if path_kind == "rows":
        monkeypatch.setattr("connectors.csv_source.CsvStream.read_chunks",
                            lambda self, watermark, plausible=None: None)
    export, mapping = tmp_path / "air.csv", tmp_path / "air.yaml"
    _export(export, 3_000)
    lines = export.read_text(encoding="utf-8").splitlines()
    lines[11] = "S1,9999-12-31T23:00:00+00:00,10,1,60,43.46,-3.80,S1"
    lines[1201] = "S2,1900-01-01T00:00:00+00:00,10,1,60,43.46,-3.80,S2"
    sensor, when = lines[2401].split(",")[:2]
    lines[2401] = f"{sensor},{when},99999,1,60,43.46,-3.80,{sensor}"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping.write_text(yaml.safe_dump(BASE), encoding="utf-8")
    report = run_source(fresh_engine, settings,
                        CsvConnector({"location": str(export), "mapping": str(mapping)}), "air")
    assert (report.records_in, report.quarantined) == (3_000, 3 + 3)  # and the 3 'oops'
    assert report.stored == 3_000 - 6
    assert report.watermark == datetime.fromtimestamp(
        1_780_000_000 + 600 * 2_999, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with fresh_engine.connect() as conn:
        reasons = conn.execute(select(Quarantine.reason)).scalars().all()
        latest = conn.execute(select(func.max(Observation.time))).scalar()
    assert sum("9999-12-31" in r for r in reasons) == 1
    assert sum("1900-01-01" in r for r in reasons) == 1
    assert sum("no2 = 99999 is outside its plausible range 0 .. 5000" in r
               for r in reasons) == 1
    assert latest == 1_780_000_000 + 600 * 2_999
