"""A whole small city: the files, their determinism, and the telemetry read back by the project's
generic reader. Pickups are found and placed here from the CSV rows alone."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pytest

from taxinav import ingest
from taxinav.ingest.generic import read_file
from taxinav.ingest.validate import Rules
from taxinav.synth import ENV_FILE, make_city

# 1,000 segments (a 17 × 19 grid): enough blocks for a core and an edge to tell apart
ARGS: dict[str, Any] = {
    "segments": 1_000,
    "taxis": 20,
    "days": 1,
    "seed": 7,
    "start": date(2008, 5, 20),
}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    make_city(out, **ARGS)
    return out


def _rows(city: Path) -> dict[str, list[tuple[int, float, float, int]]]:
    """Fixes of each vehicle in time order, read with the standard library."""
    by_vehicle: dict[str, list[tuple[int, float, float, int]]] = defaultdict(list)
    for path in sorted((city / "telemetry").glob("*.csv")):
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                by_vehicle[row["vehicle_id"]].append(
                    (int(row["ts"]), float(row["lat"]), float(row["lon"]), int(row["occupied"]))
                )
    return {v: sorted(fixes) for v, fixes in by_vehicle.items()}


def test_the_folder_holds_a_network_a_day_of_telemetry_and_a_description(city: Path) -> None:
    manifest = json.loads((city / "city.json").read_text())
    assert (city / manifest["osm_file"]).is_file()
    assert manifest["telemetry"] == ["telemetry/2008-05-20.csv"]
    assert (manifest["seed"], manifest["taxis"], manifest["days"]) == (7, 20, 1)
    assert manifest["timezone"] == "America/Los_Angeles"
    assert abs(manifest["segments"] - 1_000) <= 50
    b = manifest["bounds"]
    assert b["south"] < manifest["centre"]["lat"] < b["north"]


def test_the_generic_reader_rejects_no_row(city: Path) -> None:
    manifest = json.loads((city / "city.json").read_text())
    read = [read_file(city / name, Rules.default()) for name in manifest["telemetry"]]
    assert sum(r.quarantine.num_rows for r in read) == 0
    assert sum(r.fixes.num_rows for r in read) == manifest["fixes"] > 10_000


def test_the_ordinary_ingest_loads_every_row(city: Path, con: duckdb.DuckDBPyConnection) -> None:
    """``taxinav ingest telemetry`` and ``ingest derive``: nothing quarantined, not even as an
    implausible jump, and the day has trips."""
    manifest = json.loads((city / "city.json").read_text())
    files = [city / name for name in manifest["telemetry"]]
    report = ingest.ingest_files(con, files, "generic", ingest.Rules.default(), workers=1)
    assert report.errors == [] and report.quarantined == {}
    assert report.counts.loaded == manifest["fixes"]
    counts = ingest.derive_trips_and_spells(con, gap_limit_min=10.0)
    assert counts["trips"] > 0.5 * manifest["pickups"]


def test_fixes_come_every_30_to_60_s_while_on_shift(city: Path) -> None:
    rows = _rows(city)
    assert len(rows) >= 15  # most of the 20 taxis work that day
    gaps = np.concatenate([np.diff([f[0] for f in fixes]) for fixes in rows.values()])
    on_shift = gaps[gaps < 3 * 3600]
    assert on_shift.min() >= 30 and on_shift.max() <= 60
    assert (gaps[gaps > 60] >= 4 * 3600).all()  # the only longer gaps are between shifts


def test_speeds_are_plausible_and_both_states_occur(city: Path) -> None:
    occupied = []
    for fixes in _rows(city).values():
        ts, lat, lon, occ = (np.array(c) for c in zip(*fixes, strict=True))
        north = np.diff(lat) * 111_320.0
        east = np.diff(lon) * 111_320.0 * math.cos(math.radians(37.77))
        speed_kmh = np.hypot(north, east) / np.diff(ts) * 3.6
        assert speed_kmh.max() < 90  # no fix is a jump
        occupied.append(occ)
    share = np.concatenate(occupied).mean()
    assert 0.15 < share < 0.85


def test_pickups_are_denser_where_the_field_is_high(city: Path) -> None:
    """The field peaks at the centre and is near its floor at the edge: pickups (0 → 1 between
    two fixes of a shift, placed between them) per square metre fall from one to the other."""
    manifest = json.loads((city / "city.json").read_text())
    lat0, lon0 = manifest["centre"]["lat"], manifest["centre"]["lon"]
    b = manifest["bounds"]
    east = 111_320.0 * math.cos(math.radians(lat0))
    half = max((b["north"] - b["south"]) * 111_320.0, (b["east"] - b["west"]) * east) / 2
    radii = []
    for fixes in _rows(city).values():
        for (t0, la0, lo0, o0), (t1, la1, lo1, o1) in zip(fixes[:-1], fixes[1:], strict=True):
            if o0 == 0 and o1 == 1 and t1 - t0 <= 60:
                y = ((la0 + la1) / 2 - lat0) * 111_320.0
                x = ((lo0 + lo1) / 2 - lon0) * east
                radii.append(math.hypot(x, y))
    r = np.array(radii)
    assert r.size > 300
    inner_area = math.pi * (0.3 * half) ** 2
    outer_area = (2 * half) ** 2 - math.pi * (0.8 * half) ** 2  # the square beyond 0.8 of half
    inner = (r < 0.3 * half).sum() / inner_area
    outer = (r > 0.8 * half).sum() / outer_area
    assert inner > 3 * outer


def test_pickups_follow_the_hour_of_the_week(city: Path) -> None:
    """A vacant taxi finds a passenger more often on a Tuesday evening than before dawn: the
    share of vacant 30–60 s intervals ending occupied, by local hour of their start."""
    tz = ZoneInfo(json.loads((city / "city.json").read_text())["timezone"])
    vacant: dict[str, int] = defaultdict(int)
    found: dict[str, int] = defaultdict(int)
    for fixes in _rows(city).values():
        for (t0, *_, o0), (t1, *_, o1) in zip(fixes[:-1], fixes[1:], strict=True):
            if o0 == 0 and t1 - t0 <= 60:
                hour = datetime.fromtimestamp(t0, tz).hour
                part = "night" if 2 <= hour < 6 else "evening" if 19 <= hour < 23 else "other"
                vacant[part] += 1
                found[part] += o1
    assert vacant["night"] > 300 and vacant["evening"] > 300
    assert found["evening"] / vacant["evening"] > 2 * found["night"] / vacant["night"]


def test_the_same_seed_writes_the_same_bytes_and_another_does_not(
    city: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    make_city(again, **ARGS)
    files = sorted(p.relative_to(city) for p in city.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    # the settings file names its own folder; everything else is the same byte for byte
    for folder in (city, again):
        lines = (folder / ENV_FILE).read_text().splitlines()
        assert f"TAXINAV_DATA_DIR={folder.resolve()}" in lines
        assert "TAXINAV_INGEST__SOURCE=generic" in lines
    files.remove(Path(ENV_FILE))
    for name in files:
        assert (city / name).read_bytes() == (again / name).read_bytes(), name
    other = tmp_path / "other"
    make_city(other, **{**ARGS, "seed": 8})
    for name in files:
        assert (city / name).read_bytes() != (other / name).read_bytes(), name


def test_a_folder_of_other_files_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds no synthetic city"):
        make_city(tmp_path, 400, 2, 1)


def test_an_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        make_city(tmp_path / "c", 400, 2, 1, timezone="Mars/Olympus")
