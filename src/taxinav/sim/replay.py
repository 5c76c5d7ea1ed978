"""Building a replay world from the warehouse: real hails, real fleet presence."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa

from taxinav.roads import RoadGraph, SegmentIndex
from taxinav.sim.kpi import SF_2008, Tariff
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
    con: duckdb.DuckDBPyConnection, graph: RoadGraph, origin: datetime, end: datetime,
    tariff: Tariff = SF_2008,
) -> Requests:  # fmt: skip
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
        fare=np.array([tariff.fare(a, b) for a, b in zip(dist, dur, strict=True)]),
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
    *, gap_limit_s: float = 600.0, radius_m: float = 100.0, return_limit_s: float = 7200.0,
) -> Presence:  # fmt: skip
    """Episodes of each real vehicle inside the area: consecutive in-area fixes without a gap
    longer than the limit (a fix outside the area ends an episode too, since it is dropped
    and leaves a gap in time only if the excursion was long). See ``_stay_for_return`` for
    when an episode's end is moved."""
    fx = _in_area_fixes(con, graph, origin, end, radius_m)
    veh = fx["vehicle_id"].to_numpy(zero_copy_only=False)
    t = fx["t"].to_numpy().astype(np.float64)
    occ = fx["occupied"].to_numpy(zero_copy_only=False).astype(bool)
    lat, lon = fx["lat"].to_numpy(), fx["lon"].to_numpy()
    since_prev = fx["since_prev"].to_numpy()
    new = np.r_[True, (veh[1:] != veh[:-1]) | (np.diff(t) > gap_limit_s)]
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(t)] - 1
    names = {v: i for i, v in enumerate(sorted(set(veh[starts].tolist())))}
    busy = np.full(len(starts), np.nan)
    freed = np.full(len(starts), -1, dtype=np.int64)  # the fix where its passenger left
    for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
        if occ[a]:
            vacant = np.flatnonzero(~occ[a : b + 1])
            if vacant.size:
                busy[k], freed[k] = t[a + vacant[0]], a + vacant[0]
            else:
                busy[k] = t[b]  # carries its passenger out of the area
    # Only entries and drop-offs need a segment: snapping every fix of the day is not needed.
    need = np.unique(np.r_[starts, freed[freed >= 0]])
    segment = np.full(len(t), -1, dtype=np.int64)
    segment[need] = SegmentIndex(graph).snap(lat[need], lon[need], radius_m=radius_m).segment
    free = np.where(freed >= 0, segment[np.maximum(freed, 0)], -1)
    vehicle = np.array([names[v] for v in veh[starts]], dtype=np.int64)
    leave = _stay_for_return(vehicle, t[starts], t[ends], occ[ends], return_limit_s)
    # The engine admits vehicles in entry order; episodes not on a road are dropped.
    order = np.lexsort((vehicle, t[starts]))
    order = order[segment[starts][order] >= 0]
    return Presence(
        vehicle=vehicle[order],
        enter_t=t[starts][order],
        leave_t=leave[order],
        segment=segment[starts][order],
        busy_until=busy[order],
        free_segment=free[order],
        # The previous fix (anywhere) was recent, so the vehicle drove in: not a shift start.
        crossed_in=(since_prev[starts] <= gap_limit_s)[order],
        names=tuple(sorted(names, key=lambda k: names[k])),
    )


def _stay_for_return(
    vehicle: np.ndarray, enter: np.ndarray, leave: np.ndarray, left_occupied: np.ndarray,
    limit_s: float,
) -> np.ndarray:  # fmt: skip
    """When a real cab left the area carrying a passenger and came back within ``limit_s``,
    its simulated twin stays (vacant, unless it found its own fare) until that return.

    The real exit is the consequence of a real pickup, which the simulated taxi may not have
    made; forcing it out empty would drain vacant supply (a trial made 7,660 simulated spells
    on 2008-05-23 end by leaving, against about 1,100 real ones). The returning episode takes
    over at its entry, so the fleet size is unchanged. Episodes are in fix order per vehicle.
    """
    out = leave.copy()
    same = vehicle[1:] == vehicle[:-1]
    gap = enter[1:] - leave[:-1]
    extend = np.flatnonzero(same & left_occupied[:-1] & (gap <= limit_s))
    out[extend] = enter[extend + 1]
    return out


def speed_factors(
    con: duckdb.DuckDBPyConnection, graph: RoadGraph, before: datetime, tz: ZoneInfo,
    *, days: int = 14, moving_kmh: float = 2.0,
) -> np.ndarray:  # fmt: skip
    """Real over free-flow speed by local hour (in ``tz``), for *vacant* cabs while they move.

    Speed only drives vacant taxis in the simulator (trips replay their real duration), and
    cruising drivers go slower than occupied ones (about a fifth slower on this data), so
    the factor comes from consecutive vacant fixes in the area 20–120 s apart, moving faster
    than ``moving_kmh`` (standing is the policy's choice to wait), in the ``days`` before
    ``before``. Straight lines between fixes make it a slightly low estimate.
    """
    free_kmh = float(graph.length_m.sum() / graph.travel_time_s.sum() * 3.6)
    box = {"la0": float(graph.shape_lat.min()), "la1": float(graph.shape_lat.max()),
           "lo0": float(graph.shape_lon.min()), "lo1": float(graph.shape_lon.max()),
           "before": before, "since": before - timedelta(days=days),
           "moving": moving_kmh}  # fmt: skip
    rows = con.sql(
        f"""WITH f AS (
                SELECT ts, lat, lon, occupied,
                       lag(ts) OVER w AS pts, lag(lat) OVER w AS plat, lag(lon) OVER w AS plon,
                       lag(occupied) OVER w AS pocc
                FROM telemetry
                WHERE ts >= $since AND ts < $before
                  AND lat BETWEEN $la0 AND $la1 AND lon BETWEEN $lo0 AND $lo1
                WINDOW w AS (PARTITION BY vehicle_id ORDER BY ts)),
            pairs AS (
                SELECT hour(timezone('{tz.key}', ts)) AS h,
                       hav_m(plat, plon, lat, lon) / epoch(ts - pts) * 3.6 AS kmh
                FROM f WHERE NOT occupied AND NOT pocc AND epoch(ts - pts) BETWEEN 20 AND 120)
            SELECT h, median(kmh) FROM pairs WHERE kmh > $moving GROUP BY 1""",
        params=box,
    ).fetchall()
    factor = np.ones(24)
    for h, kmh in rows:
        factor[int(h)] = float(np.clip(kmh / free_kmh, 0.2, 1.0))
    return factor


def load_world(
    con: duckdb.DuckDBPyConnection, graph: RoadGraph, origin: datetime, days: int, tz: ZoneInfo,
    *, match_radius_m: float = 100.0, gap_limit_s: float = 600.0,
    speed_by_local_hour: np.ndarray | None = None, network: Network | None = None,
    return_limit_s: float = 7200.0, tariff: Tariff = SF_2008,
) -> World:  # fmt: skip
    """The requests and fleet presence of ``days`` days from ``origin``; simulated hour k
    runs at the speed of local hour ``origin``'s hour (in ``tz``) + k."""
    end = origin + timedelta(days=days)
    horizon = (end - origin).total_seconds()
    per_hour = None
    if speed_by_local_hour is not None:
        hours = (origin.astimezone(tz).hour + np.arange(int(np.ceil(horizon / 3600)))) % 24
        per_hour = speed_by_local_hour[hours]
    return World(
        network if network is not None else build_network(graph, match_radius_m),
        load_requests(con, graph, origin, end, tariff),
        load_presence(
            con, graph, origin, end, gap_limit_s=gap_limit_s, return_limit_s=return_limit_s
        ),
        horizon_s=horizon,
        speed_factor=per_hour,
        origin=origin,
        tz=tz,
    )


def hourly_counts(
    con: duckdb.DuckDBPyConnection, n_segments: int, before: datetime, tz: ZoneInfo
) -> tuple[np.ndarray, np.ndarray, float]:
    """Vacant-taxi entries and matched pickups per (local hour in ``tz``, segment) before
    ``before``, and over how many days."""
    passes = np.zeros((24, n_segments))
    pickups = np.zeros((24, n_segments))
    for table, target, where in (
        ("spell_paths", passes, "TRUE"),
        ("trip_end_matches", pickups, "end_kind = 'pickup' AND status = 'matched'"),
    ):
        for h, seg, n in con.sql(
            f"""SELECT hour(timezone('{tz.key}', ts)), segment_id, count(*) FROM {table}
                WHERE ts < $before AND {where} GROUP BY ALL""",
            params={"before": before},
        ).fetchall():
            target[int(h), int(seg)] = n
    days = con.sql(
        f"SELECT count(DISTINCT timezone('{tz.key}', ts)::DATE) FROM spell_paths "
        "WHERE ts < $before",
        params={"before": before},
    ).fetchall()[0][0]
    return passes, pickups, float(days or 0)
