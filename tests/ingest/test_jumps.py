"""GPS spikes above the speed limit are moved to quarantine; plausible motion stays."""

from __future__ import annotations

import duckdb

from taxinav.ingest.jumps import remove_jumps
from taxinav.ingest.load import load_fixes
from tests.ingest.builders import fixes, no_quarantine


def test_isolated_spike_is_removed_and_quarantined(con: duckdb.DuckDBPyConnection) -> None:
    # 111 m per minute (6.7 km/h) with one fix 0.05 deg (5.6 km) away: 333 km/h each way.
    rows = [("a", 60 * i, 37.7 + 0.001 * i, -122.4, False) for i in range(6)]
    rows[3] = ("a", 180, 37.75, -122.4, False)
    load_fixes(con, fixes(rows), no_quarantine())
    assert remove_jumps(con, ["a"], max_speed_kmh=200) == 1
    assert con.execute("SELECT count(*) FROM telemetry").fetchall() == [(5,)]
    assert con.execute("SELECT epoch(ts)::BIGINT % 3600, reason FROM quarantine").fetchall() == [
        (180, "implausible_jump")
    ]


def test_fast_but_plausible_driving_is_kept(con: duckdb.DuckDBPyConnection) -> None:
    # 0.02 deg latitude per minute = 2.22 km/min = 133 km/h: fast, not impossible.
    rows = [("a", 60 * i, 37.7 + 0.02 * i, -122.4, False) for i in range(5)]
    load_fixes(con, fixes(rows), no_quarantine())
    assert remove_jumps(con, ["a"], max_speed_kmh=200) == 0


def test_bad_first_fix_is_removed(con: duckdb.DuckDBPyConnection) -> None:
    rows = [("a", 0, 38.5, -122.4, False)] + [
        ("a", 60 * i, 37.7 + 0.001 * i, -122.4, False) for i in range(1, 5)
    ]
    load_fixes(con, fixes(rows), no_quarantine())
    assert remove_jumps(con, ["a"], max_speed_kmh=200) == 1
    assert con.execute("SELECT min(lat) < 38 FROM telemetry").fetchall() == [(True,)]
    assert con.execute("SELECT count(*) FROM telemetry WHERE lat = 38.5").fetchall() == [(0,)]
