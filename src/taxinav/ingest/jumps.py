"""Removal of physically implausible fixes (GPS spikes) from ``telemetry``.

A fix is implausible when reaching it from its predecessor *and* leaving it to its successor
both need more than the speed limit (an isolated spike), or when it is a vehicle's first/last
fix and the single hop to its neighbour is too fast while that neighbour is consistent with
the rest. Passes repeat until stable (bounded), because removing one spike of a burst exposes
the next. A remaining one-sided jump puts the later fix in quarantine. Removed fixes go to
``quarantine`` (reason ``implausible_jump``) so nothing silently disappears.

The check is not a fixed point of itself (cleaning a cleaned track can find more), so each
run first restores the vehicles' earlier removals and decides from all their valid fixes:
the outcome depends only on which fixes were ever loaded, not on the order of loads.
"""

from __future__ import annotations

import duckdb

from taxinav.ingest.load import INSERT_QUARANTINE

_SPEEDS = """
    CREATE OR REPLACE TEMP TABLE hop AS
    WITH v AS (
        SELECT vehicle_id, ts,
            hav_m(lag(lat) OVER w, lag(lon) OVER w, lat, lon)
                / epoch(ts - lag(ts) OVER w) * 3.6 AS v_in,
            hav_m(lat, lon, lead(lat) OVER w, lead(lon) OVER w)
                / epoch(lead(ts) OVER w - ts) * 3.6 AS v_out
        FROM telemetry
        WHERE vehicle_id IN (SELECT vehicle_id FROM jump_scope)
        WINDOW w AS (PARTITION BY vehicle_id ORDER BY ts))
    SELECT *, lead(v_out) OVER w AS next_v_out, lag(v_in) OVER w AS prev_v_in
    FROM v WINDOW w AS (PARTITION BY vehicle_id ORDER BY ts)
"""

_SPIKES = """
    SELECT vehicle_id, ts FROM hop
    WHERE (v_in > $limit AND v_out > $limit)
       OR (v_in IS NULL AND v_out > $limit AND coalesce(next_v_out, 0) <= $limit)
       OR (v_out IS NULL AND v_in > $limit AND coalesce(prev_v_in, 0) <= $limit)
"""

_ONE_SIDED = "SELECT vehicle_id, ts FROM hop WHERE v_in > $limit"


def _remove(con: duckdb.DuckDBPyConnection, select_sql: str, limit: float) -> int:
    con.execute(f"CREATE OR REPLACE TEMP TABLE bad AS {select_sql}", {"limit": limit})
    row = con.execute("SELECT count(*) FROM bad").fetchall()[0]
    n = int(row[0]) if row else 0
    if n == 0:
        return 0
    con.execute("""
        CREATE OR REPLACE TEMP TABLE bad_rows AS
        SELECT 'speed-check' AS source, NULL::BIGINT AS line, t.vehicle_id, t.ts,
               'lat,lon' AS field, 'implausible_jump' AS reason,
               concat_ws(' ', t.lat, t.lon, t.occupied::INT, epoch(t.ts)) AS raw
        FROM telemetry t JOIN bad USING (vehicle_id, ts)""")
    con.execute(INSERT_QUARANTINE.format(src="bad_rows"))
    con.execute(
        "DELETE FROM telemetry WHERE (vehicle_id, ts) IN (SELECT (vehicle_id, ts) FROM bad)"
    )
    con.execute("CREATE OR REPLACE TEMP TABLE jump_scope AS SELECT DISTINCT vehicle_id FROM bad")
    return n


_RESTORE = """
    INSERT INTO telemetry
    SELECT DISTINCT ON (vehicle_id, ts) vehicle_id, ts, p[1]::DOUBLE, p[2]::DOUBLE, p[3]::INT = 1
    FROM (SELECT vehicle_id, ts, string_split(raw, ' ') AS p FROM quarantine
          WHERE reason = 'implausible_jump' AND vehicle_id IN (SELECT vehicle_id FROM jump_all)) q
    WHERE NOT EXISTS (
        SELECT 1 FROM telemetry t WHERE t.vehicle_id = q.vehicle_id AND t.ts = q.ts)
    ORDER BY vehicle_id, ts
"""


def remove_jumps(
    con: duckdb.DuckDBPyConnection, vehicles: list[str], max_speed_kmh: float, rounds: int = 5
) -> int:
    """Quarantine implausible fixes of ``vehicles``.

    Returns:
        How many of their fixes are now quarantined as implausible (all loads, not just this).
    """
    if not vehicles:
        return 0
    removed = 0
    con.begin()
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE jump_all (vehicle_id VARCHAR)")
        con.executemany("INSERT INTO jump_all VALUES (?)", [(v,) for v in vehicles])
        con.execute(_RESTORE)
        con.execute(
            "DELETE FROM quarantine WHERE reason = 'implausible_jump' "
            "AND vehicle_id IN (SELECT vehicle_id FROM jump_all)"
        )
        con.execute("CREATE OR REPLACE TEMP TABLE jump_scope AS SELECT * FROM jump_all")
        for _ in range(rounds):
            con.execute(_SPEEDS)
            n = _remove(con, _SPIKES, max_speed_kmh)
            removed += n
            if n == 0:
                break
        con.execute("CREATE OR REPLACE TEMP TABLE jump_scope AS SELECT * FROM jump_all")
        con.execute(_SPEEDS)
        removed += _remove(con, _ONE_SIDED, max_speed_kmh)
        con.commit()
    except Exception:
        con.rollback()
        raise
    return removed
