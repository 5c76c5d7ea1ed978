"""Deriving passenger trips and vacant spells from ``telemetry``.

Per vehicle, fixes are cut into *runs* wherever two fixes are more than the gap limit apart.
Inside a run, maximal stretches of constant occupancy are *states*. An occupied state whose
start and end are both occupancy switches inside the run is a trip (pickup = first occupied
fix, drop-off = first vacant fix after it). A vacant state is a spell; it starts at a drop-off
or at a shift start (first fix of a run) and ends at a pickup, a gap, or the end of the data.
Path distances sum great-circle hops between consecutive fixes of the run.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb

_STATES = """
CREATE OR REPLACE TEMP TABLE states AS
WITH base AS (
    SELECT vehicle_id, ts, lat, lon, occupied,
        lag(ts) OVER w AS prev_ts, lead(ts) OVER w AS next_ts,
        lag(occupied) OVER w AS prev_occ,
        lag(lat) OVER w AS plat, lag(lon) OVER w AS plon,
        lead(lat) OVER w AS nlat, lead(lon) OVER w AS nlon
    FROM {source} WINDOW w AS (PARTITION BY vehicle_id ORDER BY ts)
), flagged AS (
    SELECT *,
        prev_ts IS NULL OR epoch(ts - prev_ts) > $gap AS run_start,
        next_ts IS NULL OR epoch(next_ts - ts) > $gap AS run_end,
        -- heading through the fix, only when the neighbours are far enough apart to tell
        CASE WHEN hav_m(plat, plon, nlat, nlon) > 10
             THEN bearing_deg(plat, plon, nlat, nlon) END AS heading
    FROM base
), steps AS (
    SELECT *,
        CASE WHEN run_end THEN 0 ELSE hav_m(lat, lon, nlat, nlon) END AS step_m,
        run_start OR occupied IS DISTINCT FROM prev_occ AS state_start,
        sum(run_start::INT) OVER w AS run_id
    FROM flagged WINDOW w AS (PARTITION BY vehicle_id ORDER BY ts)
), numbered AS (
    SELECT *, sum(state_start::INT) OVER w AS state_id
    FROM steps WINDOW w AS (PARTITION BY vehicle_id ORDER BY ts)
), agg AS (
    SELECT vehicle_id, state_id, any_value(run_id) AS run_id, any_value(occupied) AS occupied,
        min(ts) AS start_ts, max(ts) AS last_ts,
        first(lat ORDER BY ts) AS start_lat, first(lon ORDER BY ts) AS start_lon,
        last(lat ORDER BY ts) AS last_lat, last(lon ORDER BY ts) AS last_lon,
        first(heading ORDER BY ts) AS start_heading,
        -- ordered sum: float addition in a fixed order gives byte-identical reruns
        count(*) AS n_fixes, sum(step_m ORDER BY ts) AS distance_m
    FROM numbered GROUP BY vehicle_id, state_id
)
SELECT *,
    lag(run_id) OVER w = run_id AS prev_same_run,
    lead(run_id) OVER w = run_id AS next_same_run,
    lead(run_id) OVER w IS NOT NULL AS has_next,
    lag(run_id) OVER w IS NOT NULL AS has_prev,
    lead(start_ts) OVER w AS next_ts, lead(start_lat) OVER w AS next_lat,
    lead(start_lon) OVER w AS next_lon, lead(start_heading) OVER w AS next_heading
FROM agg WINDOW w AS (PARTITION BY vehicle_id ORDER BY state_id)
"""

_TRIPS = """
SELECT vehicle_id || ':' || epoch(start_ts)::BIGINT, vehicle_id,
    start_ts, start_lat, start_lon, start_heading,
    next_ts, next_lat, next_lon, next_heading,
    epoch(next_ts - start_ts), distance_m, n_fixes
FROM states WHERE occupied AND prev_same_run AND next_same_run AND {keep}
"""

_SPELLS = """
SELECT vehicle_id || ':' || epoch(start_ts)::BIGINT, vehicle_id,
    start_ts, start_lat, start_lon,
    CASE WHEN coalesce(prev_same_run, false) THEN 'dropoff' ELSE 'shift_start' END,
    CASE WHEN next_same_run THEN next_ts ELSE last_ts END,
    CASE WHEN next_same_run THEN next_lat ELSE last_lat END,
    CASE WHEN next_same_run THEN next_lon ELSE last_lon END,
    CASE WHEN next_same_run THEN 'pickup' WHEN has_next THEN 'gap' ELSE 'end_of_data' END
        AS end_reason,
    epoch(CASE WHEN next_same_run THEN next_ts ELSE last_ts END - start_ts),
    distance_m, n_fixes
FROM states WHERE NOT occupied AND {keep}
"""

_COUNTS = """
SELECT 'trip' AS kind, reason, count(*) FROM (
    SELECT CASE
        WHEN prev_same_run AND next_same_run THEN 'complete'
        WHEN NOT coalesce(prev_same_run, false) AND has_prev THEN 'pickup_cut_by_gap'
        WHEN NOT coalesce(prev_same_run, false) THEN 'pickup_before_data'
        WHEN has_next THEN 'dropoff_cut_by_gap'
        ELSE 'dropoff_after_data' END AS reason
    FROM states WHERE occupied AND {keep}) GROUP BY reason
UNION ALL
SELECT 'spell', end_reason, count(*) FROM ({spells}) GROUP BY end_reason
UNION ALL
SELECT 'gap', 'runs_cut_by_gap', count(*) FROM states
WHERE {keep} AND run_id > 1 AND NOT coalesce(prev_same_run, false)
"""

# A day's fixes with context, plus each vehicle's nearest fix beyond the context on either
# side, so "is there data before/after" is answered as for the whole table.
_WINDOW = """(
    SELECT * FROM telemetry WHERE ts >= $lo_ctx AND ts < $hi_ctx
    UNION ALL
    SELECT vehicle_id, max(ts), arg_max(lat, ts), arg_max(lon, ts), arg_max(occupied, ts)
    FROM telemetry WHERE ts < $lo_ctx GROUP BY vehicle_id
    UNION ALL
    SELECT vehicle_id, min(ts), arg_min(lat, ts), arg_min(lon, ts), arg_min(occupied, ts)
    FROM telemetry WHERE ts >= $hi_ctx GROUP BY vehicle_id)
"""


def derive_trips_and_spells(con: duckdb.DuckDBPyConnection, gap_limit_min: float) -> dict[str, int]:
    """Rebuild ``trips``, ``vacant_spells`` and ``derivation_counts`` atomically.

    Returns:
        Row counts of the rebuilt tables.
    """
    con.begin()
    try:
        con.execute(_STATES.format(source="telemetry"), {"gap": gap_limit_min * 60.0})
        for table in ("trips", "vacant_spells", "derivation_counts"):
            con.execute(f"DELETE FROM {table}")
        con.execute("INSERT INTO trips " + _TRIPS.format(keep="true"))
        con.execute("INSERT INTO vacant_spells " + _SPELLS.format(keep="true"))
        con.execute("INSERT INTO derivation_counts " + _counts("true"))
        con.execute("DROP TABLE states")
        con.commit()
    except Exception:
        con.rollback()
        raise
    return {t: _rows(con, f"SELECT count(*) FROM {t}") for t in ("trips", "vacant_spells")}


def _counts(keep: str) -> str:
    return _COUNTS.format(keep=keep, spells=_SPELLS.format(keep=keep))


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> int:
    row = con.execute(sql, params).fetchall()[0]
    return int(row[0]) if row else 0


def derive_day(
    con: duckdb.DuckDBPyConnection, day: date, start: datetime, end: datetime,
    gap_limit_min: float, context_hours: float,
) -> dict[str, int]:  # fmt: skip
    """Replace the trips, spells and derivation counts that *start* in [start, end) — one
    local day — in one transaction.

    Fixes from ``context_hours`` either side are read so that a state crossing midnight is
    cut exactly as in :func:`derive_trips_and_spells` (unless it lasts longer than that).
    """
    pad = timedelta(hours=context_hours)
    keep = "start_ts >= $lo AND start_ts < $hi"
    params = {"lo": start, "hi": end}
    con.begin()
    try:
        con.execute(
            _STATES.format(source=_WINDOW),
            {"gap": gap_limit_min * 60.0, "lo_ctx": start - pad, "hi_ctx": end + pad},
        )
        con.execute("DELETE FROM trips WHERE pickup_ts >= $lo AND pickup_ts < $hi", params)
        con.execute("DELETE FROM vacant_spells WHERE start_ts >= $lo AND start_ts < $hi", params)
        con.execute("DELETE FROM daily_derivation_counts WHERE day = ?", [day])
        con.execute("INSERT INTO trips " + _TRIPS.format(keep=keep) + " ORDER BY 1", params)
        con.execute("INSERT INTO vacant_spells " + _SPELLS.format(keep=keep) + " ORDER BY 1",
                    params)  # fmt: skip
        con.execute("INSERT INTO daily_derivation_counts SELECT $day, * FROM ("
                    + _counts(keep) + ") ORDER BY ALL", {**params, "day": day})  # fmt: skip
        # The whole-period view the report reads, summed over the days derived so far.
        con.execute("DELETE FROM derivation_counts")
        con.execute("""INSERT INTO derivation_counts SELECT kind, reason, sum(n)
                       FROM daily_derivation_counts GROUP BY ALL ORDER BY ALL""")
        con.execute("DROP TABLE states")
        con.commit()
    except Exception:
        con.rollback()
        raise
    between = "WHERE {} >= ? AND {} < ?"
    return {
        "trips": _rows(con, "SELECT count(*) FROM trips " + between.format(
            "pickup_ts", "pickup_ts"), [start, end]),
        "vacant_spells": _rows(con, "SELECT count(*) FROM vacant_spells " + between.format(
            "start_ts", "start_ts"), [start, end]),
    }  # fmt: skip
