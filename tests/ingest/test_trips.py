"""Trips and vacant spells on a hand-built track with hand-computed answers."""

from __future__ import annotations

import duckdb
import pytest

from taxinav.ingest.load import load_fixes
from taxinav.ingest.trips import derive_trips_and_spells
from tests.ingest.builders import LAT_STEP_M, T0, fixes, no_quarantine

# Vehicle moves 0.001 deg north per fix. Run 1: t=0..360 s; a 20 min gap; run 2 from 1560 s.
TRACK = [
    (0, False),
    (60, False),
    (120, True),
    (180, True),
    (240, True),
    (300, False),
    (360, False),
    (1560, True),
    (1620, False),
    (1680, False),
]


@pytest.fixture
def derived(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    rows = [("cab", t, 37.7 + 0.001 * i, -122.4, occ) for i, (t, occ) in enumerate(TRACK)]
    load_fixes(con, fixes(rows), no_quarantine())
    derive_trips_and_spells(con, gap_limit_min=10)
    return con


def test_one_complete_trip_with_duration_and_path_distance(
    derived: duckdb.DuckDBPyConnection,
) -> None:
    trips = derived.execute(
        "SELECT epoch(pickup_ts - $t0), epoch(dropoff_ts - $t0), duration_s, distance_m, "
        "pickup_lat, dropoff_lat, n_fixes FROM trips",
        {"t0": T0},
    ).fetchall()
    assert len(trips) == 1
    pick, drop, duration, distance, plat, dlat, n = trips[0]
    assert (pick, drop, duration, n) == (120, 300, 180, 3)
    assert distance == pytest.approx(3 * LAT_STEP_M, rel=1e-6)
    assert (plat, dlat) == pytest.approx((37.702, 37.705))


def test_spells_start_at_dropoff_or_shift_start_and_end_at_pickup_gap_or_data_end(
    derived: duckdb.DuckDBPyConnection,
) -> None:
    spells = derived.execute(
        "SELECT epoch(start_ts - $t0), start_reason, epoch(end_ts - $t0), end_reason, "
        "duration_s, round(distance_m / $step, 6) FROM vacant_spells ORDER BY start_ts",
        {"t0": T0, "step": LAT_STEP_M},
    ).fetchall()
    assert spells == [
        (0, "shift_start", 120, "pickup", 120, 2.0),
        (300, "dropoff", 360, "gap", 60, 1.0),
        (1620, "dropoff", 1680, "end_of_data", 60, 1.0),
    ]


def test_cuts_are_counted(derived: duckdb.DuckDBPyConnection) -> None:
    counts = {
        (k, r): n for k, r, n in derived.execute("SELECT * FROM derivation_counts").fetchall()
    }
    assert counts == {
        ("trip", "complete"): 1,
        ("trip", "pickup_cut_by_gap"): 1,
        ("spell", "pickup"): 1,
        ("spell", "gap"): 1,
        ("spell", "end_of_data"): 1,
        ("gap", "runs_cut_by_gap"): 1,
    }


def test_rederiving_is_idempotent(derived: duckdb.DuckDBPyConnection) -> None:
    from taxinav.warehouse import table_checksum

    before = [table_checksum(derived, t) for t in ("trips", "vacant_spells")]
    derive_trips_and_spells(derived, gap_limit_min=10)
    assert [table_checksum(derived, t) for t in ("trips", "vacant_spells")] == before
