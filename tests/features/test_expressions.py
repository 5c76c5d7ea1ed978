"""Feature values on a tiny hand-built grid (2 units, 3 days of 10-minute slots)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import ibis
import pyarrow as pa
import pytest

from taxinav.calendar import slot_table
from taxinav.features import build_features

TZ = ZoneInfo("America/Los_Angeles")
DAY = 144


@pytest.fixture(scope="module")
def rows() -> dict[tuple[str, int], dict[str, object]]:
    origin = datetime(2008, 5, 19, 7, 0, tzinfo=UTC)  # local midnight, a Monday
    con = ibis.duckdb.connect()
    units = con.create_table("units", pa.table({"unit_id": ["a", "b"]}))
    slots = con.create_table("slots", slot_table(origin, 3 * DAY, 10, TZ))
    counts = con.create_table(
        "counts",
        pa.table({"unit_id": ["a", "a", "a"], "slot": [5, 6, DAY + 5], "n": [1, 2, 1]}),
    )
    supply = con.create_table("supply", pa.table({"unit_id": ["a"], "slot": [6], "vehicles": [2]}))
    nbrs = con.create_table(
        "nbrs", pa.table({"unit_id": ["a", "b"], "nbr_id": ["b", "a"], "ring": [1, 1]})
    )
    out = build_features(units, slots, counts, supply, nbrs).to_pyarrow().to_pylist()
    return {(r["unit_id"], r["slot"]): r for r in out}


def test_recent_counts_and_target(rows: dict[tuple[str, int], dict[str, object]]) -> None:
    r = rows[("a", 7)]
    assert (r["r10"], r["r30"], r["r60"]) == (2, 3, 3)
    assert rows[("a", 5)]["y"] == 3  # slots 5, 6, 7
    assert rows[("a", 5)]["r30"] == 0  # nothing before slot 5
    assert rows[("a", 4)]["y"] == 3
    assert rows[("a", 3)]["y"] == 1


def test_neighbour_supply_and_ratio(rows: dict[tuple[str, int], dict[str, object]]) -> None:
    assert rows[("b", 7)]["nb1_r30"] == 3
    assert rows[("a", 7)]["sup10"] == 2
    assert rows[("b", 7)]["nb1_sup10"] == 2
    assert rows[("a", 7)]["ratio"] == pytest.approx(3 / (2 + 0 + 1))


def test_daily_statistics_use_earlier_days_only(
    rows: dict[tuple[str, int], dict[str, object]],
) -> None:
    assert rows[("a", DAY + 5)]["y"] == 1
    assert rows[("a", DAY + 5)]["yday"] == 3
    assert rows[("a", 2 * DAY + 5)]["ha_all"] == pytest.approx((3 + 1) / 2)
    assert rows[("a", 5)]["ha_all"] is None  # no earlier day
    assert rows[("a", 2 * DAY + 5)]["week"] is None  # no week of history


def test_calendar_and_incomplete_targets(rows: dict[tuple[str, int], dict[str, object]]) -> None:
    assert rows[("a", 6 * 9)]["hour"] == 9
    assert rows[("a", 0)]["weekday"] == 0
    assert rows[("a", 3 * DAY - 1)]["y_complete"] == 0
    assert rows[("a", 3 * DAY - 3)]["y_complete"] == 1
