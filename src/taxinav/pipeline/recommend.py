"""Recommend routes from the warehouse as of a moment: the inspection command's job."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np

from taxinav.features.calendar import local_midnight
from taxinav.pipeline.guidance import day_demand, guided_factory
from taxinav.roads import RoadGraph, SegmentIndex, read_graph
from taxinav.routing.recommender import FleetState, VehicleState
from taxinav.routing.route import Route
from taxinav.settings import Settings
from taxinav.sim.learned import learn_historical
from taxinav.sim.replay import build_network

LIVE_WINDOW_MIN = 5.0  # a vehicle counts as on the road if it reported this recently


@dataclass(frozen=True)
class Recommendation:
    at: datetime
    routes: dict[str, Route]
    vacant: int
    unplaced: int  # vacant vehicles not within reach of a road segment
    demand_source: str
    seconds: float
    rejected: dict[str, int]


def vacant_vehicles(
    con: duckdb.DuckDBPyConnection, graph: RoadGraph, at: datetime
) -> tuple[list[VehicleState], int]:
    """Vehicles whose latest fix in the last minutes before ``at`` is vacant, snapped to a
    segment (heading from their previous fix); and how many could not be placed."""
    t = con.sql(
        """WITH f AS (
               SELECT vehicle_id, ts, lat, lon, occupied,
                      lag(lat) OVER w AS plat, lag(lon) OVER w AS plon,
                      row_number() OVER (PARTITION BY vehicle_id ORDER BY ts DESC) AS rn
               FROM telemetry WHERE ts > $lo AND ts <= $at
               WINDOW w AS (PARTITION BY vehicle_id ORDER BY ts))
           SELECT vehicle_id, lat, lon,
                  CASE WHEN plat IS NULL OR hav_m(plat, plon, lat, lon) < 10 THEN 'NaN'::DOUBLE
                       ELSE bearing_deg(plat, plon, lat, lon) END AS heading
           FROM f WHERE rn = 1 AND NOT occupied ORDER BY vehicle_id""",
        params={"lo": at - timedelta(minutes=LIVE_WINDOW_MIN), "at": at},
    ).to_arrow_table()
    ids = t["vehicle_id"].to_pylist()
    snap = SegmentIndex(graph).snap(
        t["lat"].to_numpy(), t["lon"].to_numpy(), t["heading"].to_numpy(), radius_m=50.0
    )
    vehicles = [
        VehicleState(str(v), int(s), float((1.0 - f) * graph.travel_time_s[s]))
        for v, s, f in zip(ids, snap.segment.tolist(), snap.offset_frac.tolist(), strict=True)
        if s >= 0
    ]
    return vehicles, len(ids) - len(vehicles)


def recommend_at(con: duckdb.DuckDBPyConnection, settings: Settings,
                 at: datetime) -> Recommendation:  # fmt: skip
    """The coordinated plan for every vacant vehicle at ``at``, learned from the days
    before ``at``'s day and using the stored forecasts of that day when there are some."""
    graph = read_graph(con)
    network = build_network(graph, settings.sim.match_radius_m)
    origin = local_midnight(at.astimezone(settings.tz).date(), settings.tz)
    hour = origin.astimezone(settings.tz).hour
    behaviour = learn_historical(con, network, origin, settings.timezone, hour)
    factory = guided_factory("guided", con, network, origin, settings, behaviour)
    rec, demand_at, habits_at = factory.parts(origin, settings.seed)
    vehicles, unplaced = vacant_vehicles(con, graph, at)
    if not vehicles:
        raise LookupError(f"no vacant vehicle reported in the {LIVE_WINDOW_MIN:g} min before {at}")
    t = (at - origin).total_seconds()
    started = time.perf_counter()
    routes = rec.plan(FleetState(t, vehicles, demand_at(t), habits_at(t)))
    source = day_demand(con, settings, graph.n_segments, origin, factory.hourly).source
    return Recommendation(at, routes, len(vehicles), unplaced, source,
                          time.perf_counter() - started, dict(rec.checker.failures))  # fmt: skip


def geojson(rec: Recommendation, graph: RoadGraph) -> dict[str, Any]:
    features = [r.geojson(graph.shape) for r in rec.routes.values()]
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "at": rec.at.isoformat(),
            "vacant": rec.vacant,
            "routes": len(rec.routes),
            "demand_source": rec.demand_source,
            "plan_seconds": round(rec.seconds, 3),
            "rejected_routes": rec.rejected,
            "mean_p_found": float(np.mean([r.p_cumulative[-1] for r in rec.routes.values()]))
            if rec.routes
            else 0.0,
        },
    }
