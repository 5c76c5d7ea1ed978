"""Quality gates on hand-built telemetry: counts against recent days, nulls, coordinates."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from taxinav.calendar import Day
from taxinav.pipeline import checks as quality
from taxinav.settings import Settings

TZ = Settings().tz
D = Day.of(date(2008, 5, 20), TZ)


def _fixes(con: duckdb.DuckDBPyConnection, day: Day, n: int, lat: float = 37.78) -> None:
    rows = [(f"cab{k}", day.start + timedelta(minutes=k), lat, -122.41, False) for k in range(n)]
    con.executemany("INSERT INTO telemetry VALUES (?, ?, ?, ?, ?)", rows)


def test_row_count_compares_with_the_median_of_recent_days(
    con: duckdb.DuckDBPyConnection,
) -> None:
    for k, n in ((1, 100), (2, 300), (3, 200)):  # median of the earlier days: 200
        _fixes(con, Day.of(D.day - timedelta(days=k), TZ), n)
    _fixes(con, D, 50)
    check = quality.row_count(con, "telemetry", "ts", D, min_ratio=0.3)
    assert check.value == pytest.approx(0.25) and not check.passed
    assert quality.row_count(con, "telemetry", "ts", D, min_ratio=0.2).passed


def test_the_first_day_only_needs_rows(con: duckdb.DuckDBPyConnection) -> None:
    assert not quality.row_count(con, "telemetry", "ts", D, 0.3).passed
    _fixes(con, D, 3)
    assert quality.row_count(con, "telemetry", "ts", D, 0.3).passed


def test_coordinates_far_from_the_network_fail(con: duckdb.DuckDBPyConnection) -> None:
    _fixes(con, D, 8)
    con.execute("UPDATE telemetry SET lat = 40.0 WHERE vehicle_id IN ('cab0', 'cab1')")
    bbox = (37.7, 37.8, -122.5, -122.4)
    check = quality.coordinate_range(con, D, bbox, min_inside=0.9)
    assert check.value == pytest.approx(6 / 8) and not check.passed
    assert quality.null_rate(con, D).passed


def test_matched_share_of_pickups(con: duckdb.DuckDBPyConnection) -> None:
    rows = [(f"t{k}", "pickup", "cab", D.start + timedelta(minutes=k), k if k < 3 else None,
             None, None, "matched" if k < 3 else "beyond_radius") for k in range(4)]  # fmt: skip
    con.executemany("INSERT INTO trip_end_matches VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    check = quality.matched_share(con, D, minimum=0.8)
    assert check.value == pytest.approx(0.75) and not check.passed
