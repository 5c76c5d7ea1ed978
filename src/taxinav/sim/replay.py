"""Building a replay world from the warehouse: real hails, real fleet presence."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa

from taxinav.roads import RoadGraph, SegmentIndex
from taxinav.sim.kpi import meter_fare
from taxinav.sim.world import Network, Presence, Requests, World


def build_network(graph: RoadGraph, match_radius_m: float = 100.0) -> Network:
    """Free-flow travel times; ``near(s)`` = segments within the radius of s's midpoint."""
    mid, seg = SegmentIndex(graph).within(graph.mid_lat, graph.mid_lon, match_radius_m)
    # s itself first, then the others by id, so serving order is deterministic.
    order = np.lexsort((seg, seg != mid, mid))
    mid, seg = mid[order], seg[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(mid, minlength=graph.n_segments))])
    return Network(
        succ_indptr=graph.succ_indptr, succ_indices=graph.succ_indices,
        travel_s=graph.travel_time_s, length_m=graph.length_m,
        near_indptr=indptr.astype(np.int64), near_indices=seg.astype(np.int64),
    )  # fmt: skip


def load_requests(
    con: duckdb.DuckDBPyConnection, graph: RoadGraph, origin: datetime, end: datetime
) -> Requests:
    """Every map-matched pickup in [origin, end) with its real drop-off and duration. For a
    trip that ends outside the area the duration is the time until its last fix inside."""
    box = {
        "la0": float(graph.shape_lat.min()),
        "la1": float(graph.shape_lat.max()),
        "lo0": float(graph.shape_lon.min()),
        "lo1": float(graph.shape_lon.max()),
    }
    t = con.sql(
        """
        WITH req AS (
            SELECT p.trip_id, p.ts, p.segment_id AS seg, coalesce(d.segment_id, -1) AS drop_seg,
                   tr.vehicle_id, tr.dropoff_ts, tr.duration_s, tr.distance_m
            FROM trip_end_matches p
            JOIN trips tr USING (trip_id)
            LEFT JOIN trip_end_matches d
              ON d.trip_id = p.trip_id AND d.end_kind = 'dropoff' AND d.status = 'matched'
            WHERE p.end_kind = 'pickup' AND p.status = 'matched'
              AND p.ts >= $origin AND p.ts < $end),
        inside AS (
            SELECT r.trip_id, max(f.ts) AS last_in, arg_max(f.lat, f.ts) AS exit_lat,
                   arg_max(f.lon, f.ts) AS exit_lon
            FROM req r JOIN telemetry f
              ON f.vehicle_id = r.vehicle_id AND f.ts >= r.ts AND f.ts <= r.dropoff_ts
            WHERE r.drop_seg = -1
              AND f.lat BETWEEN $la0 AND $la1 AND f.lon BETWEEN $lo0 AND $lo1
            GROUP BY r.trip_id)
        SELECT epoch(r.ts) - epoch($origin::TIMESTAMPTZ) AS t, r.seg, r.drop_seg,
               CASE WHEN r.drop_seg = -1 THEN coalesce(epoch(i.last_in) - epoch(r.ts), 0)
                    ELSE r.duration_s END AS duration_s,
               r.distance_m, r.duration_s AS full_s,
               coalesce(i.exit_lat, 0) AS exit_lat, coalesce(i.exit_lon, 0) AS exit_lon
        FROM req r LEFT JOIN inside i USING (trip_id)
        ORDER BY r.ts, r.trip_id""",
        params={"origin": origin, "end": end, **box},
    ).to_arrow_table()
    dist = t["distance_m"].to_numpy()
    dur = t["full_s"].to_numpy()
    inside = t["duration_s"].to_numpy().astype(np.float64)
    exits = (
        SegmentIndex(graph)
        .snap(t["exit_lat"].to_numpy(), t["exit_lon"].to_numpy(), radius_m=200.0)
        .segment
    )
    return Requests(
        t=t["t"].to_numpy().astype(np.float64), segment=t["seg"].to_numpy().astype(np.int64),
        dropoff_segment=t["drop_seg"].to_numpy().astype(np.int64),
        duration_s=t["duration_s"].to_numpy().astype(np.float64),
        fare=np.array([meter_fare(a, b) for a, b in zip(dist, dur, strict=True)]),
        exit_segment=exits, outside_s=np.maximum(dur - inside, 0.0),
    )  # fmt: skip


def _in_area_fixes(
    con: duckdb.DuckDBPyConnection, graph: RoadGraph, origin: datetime, end: datetime,
    radius_m: float,
) -> pa.Table:  # fmt: skip
    bounds = [
        float(graph.shape_lat.min()),
        float(graph.shape_lat.max()),
        float(graph.shape_lon.min()),
        float(graph.shape_lon.max()),
    ]
    t = con.sql(
        """WITH f AS (
               SELECT vehicle_id, ts, lat, lon, occupied,
                      epoch(ts) - epoch(lag(ts) OVER (PARTITION BY vehicle_id ORDER BY ts))
                          AS since_prev
               FROM telemetry WHERE ts >= $origin::TIMESTAMPTZ - INTERVAL 1 HOUR AND ts < $end)
           SELECT vehicle_id, epoch(ts) - epoch($origin::TIMESTAMPTZ) AS t, lat, lon, occupied,
                  coalesce(since_prev, 1e9) AS since_prev
           FROM f WHERE ts >= $origin
             AND lat BETWEEN $la0 AND $la1 AND lon BETWEEN $lo0 AND $lo1
           ORDER BY vehicle_id, ts""",
        params={
            "origin": origin,
            "end": end,
            "la0": bounds[0],
            "la1": bounds[1],
            "lo0": bounds[2],
            "lo1": bounds[3],
        },
    ).to_arrow_table()
    near = SegmentIndex(graph).near(t["lat"].to_numpy(), t["lon"].to_numpy(), radius_m)
    return t.filter(pa.array(near))


def load_presence(
    con: duckdb.DuckDBPyConnection, graph: RoadGraph, origin: datetime, end: datetime,
    *, gap_limit_s: float = 600.0, radius_m: float = 100.0,
) -> Presence:  # fmt: skip
    """Episodes of each real vehicle inside the area: consecutive in-area fixes without a gap
    longer than the limit (a fix outside the area ends an episode too, since it is dropped
    and leaves a gap in time only if the excursion was long)."""
    fx = _in_area_fixes(con, graph, origin, end, radius_m)
    veh = fx["vehicle_id"].to_numpy(zero_copy_only=False)
    t = fx["t"].to_numpy().astype(np.float64)
    occ = fx["occupied"].to_numpy(zero_copy_only=False).astype(bool)
    lat, lon = fx["lat"].to_numpy(), fx["lon"].to_numpy()
    since_prev = fx["since_prev"].to_numpy()
    new = np.r_[True, (veh[1:] != veh[:-1]) | (np.diff(t) > gap_limit_s)]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(t)] - 1
    index = SegmentIndex(graph)
    snap = index.snap(lat, lon, radius_m=radius_m)
    names = {v: i for i, v in enumerate(sorted(set(veh[starts].tolist())))}
    busy = np.full(len(starts), np.nan)
    free = np.full(len(starts), -1, dtype=np.int64)
    for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
        if occ[a]:
            vacant = np.flatnonzero(~occ[a : b + 1])
            if vacant.size:
                busy[k], free[k] = t[a + vacant[0]], snap.segment[a + vacant[0]]
            else:
                busy[k] = t[b]  # carries its passenger out of the area
    vehicle = np.array([names[v] for v in veh[starts]], dtype=np.int64)
    # The engine admits vehicles in entry order; episodes not on a road are dropped.
    order = np.lexsort((vehicle, t[starts]))
    order = order[snap.segment[starts][order] >= 0]
    return Presence(
        vehicle=vehicle[order],
        enter_t=t[starts][order],
        leave_t=t[ends][order],
        segment=snap.segment[starts][order],
        busy_until=busy[order],
        free_segment=free[order],
        # The previous fix (anywhere) was recent, so the vehicle drove in: not a shift start.
        crossed_in=(since_prev[starts] <= gap_limit_s)[order],
    )


def speed_factors(
    con: duckdb.DuckDBPyConnection, graph: RoadGraph, before: datetime, tz_name: str
) -> np.ndarray:
    """Real over free-flow speed by local hour, from occupied trips with both ends on the
    network before ``before`` (GPS path speed: a conservative, slightly low estimate)."""
    free_kmh = float(graph.length_m.sum() / graph.travel_time_s.sum() * 3.6)
    rows = con.sql(
        f"""SELECT hour(timezone('{tz_name}', t.pickup_ts)) AS h,
                   median(t.distance_m / t.duration_s * 3.6) AS kmh
            FROM trips t
            JOIN trip_end_matches p ON p.trip_id = t.trip_id AND p.end_kind = 'pickup'
             AND p.status = 'matched'
            JOIN trip_end_matches d ON d.trip_id = t.trip_id AND d.end_kind = 'dropoff'
             AND d.status = 'matched'
            WHERE t.duration_s > 120 AND t.pickup_ts < $before GROUP BY 1""",
        params={"before": before},
    ).fetchall()
    factor = np.ones(24)
    for h, kmh in rows:
        factor[int(h)] = float(np.clip(kmh / free_kmh, 0.2, 1.0))
    return factor


def load_world(
    con: duckdb.DuckDBPyConnection, graph: RoadGraph, origin: datetime, days: int,
    *, match_radius_m: float = 100.0, gap_limit_s: float = 600.0,
    speed_by_local_hour: np.ndarray | None = None, origin_local_hour: int = 0,
    network: Network | None = None,
) -> World:  # fmt: skip
    end = origin + timedelta(days=days)
    horizon = (end - origin).total_seconds()
    per_hour = None
    if speed_by_local_hour is not None:
        hours = (origin_local_hour + np.arange(int(np.ceil(horizon / 3600)))) % 24
        per_hour = speed_by_local_hour[hours]
    return World(
        network if network is not None else build_network(graph, match_radius_m),
        load_requests(con, graph, origin, end),
        load_presence(con, graph, origin, end, gap_limit_s=gap_limit_s),
        horizon_s=horizon,
        speed_factor=per_hour,
    )


def hourly_counts(
    con: duckdb.DuckDBPyConnection, n_segments: int, before: datetime, tz_name: str
) -> tuple[np.ndarray, np.ndarray, float]:
    """Vacant-taxi entries and matched pickups per (local hour, segment) before ``before``,
    and over how many days."""
    passes = np.zeros((24, n_segments))
    pickups = np.zeros((24, n_segments))
    for table, target, where in (
        ("spell_paths", passes, "TRUE"),
        ("trip_end_matches", pickups, "end_kind = 'pickup' AND status = 'matched'"),
    ):
        for h, seg, n in con.sql(
            f"""SELECT hour(timezone('{tz_name}', ts)), segment_id, count(*) FROM {table}
                WHERE ts < $before AND {where} GROUP BY ALL""",
            params={"before": before},
        ).fetchall():
            target[int(h), int(seg)] = n
    days = con.sql(
        f"SELECT count(DISTINCT timezone('{tz_name}', ts)::DATE) FROM spell_paths "
        "WHERE ts < $before",
        params={"before": before},
    ).fetchall()[0][0]
    return passes, pickups, float(days or 0)
