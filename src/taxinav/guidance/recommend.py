"""Recommend routes from the warehouse as of a moment: the inspection command's job."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from taxinav.calendar import local_midnight
from taxinav.features import Slotting
from taxinav.guidance.factory import day_guidance
from taxinav.roads import RoadGraph, SegmentIndex
from taxinav.routing.recommender import FleetState, VehicleState
from taxinav.routing.route import Route
from taxinav.settings import Settings

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
    rate: np.ndarray | None = None  # forecast pickups per second on each segment, if planned
    horizon_min: int = 30  # the forecasts' horizon, minutes (what the map's demand counts)


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
    ids = [str(v) for v in t["vehicle_id"].to_pylist()]
    vehicles = place_vehicles(graph, SegmentIndex(graph), ids, t["lat"].to_numpy(),
                              t["lon"].to_numpy(), t["heading"].to_numpy())  # fmt: skip
    return vehicles, len(ids) - len(vehicles)


def place_vehicles(
    graph: RoadGraph, index: SegmentIndex, ids: list[str], lat: np.ndarray, lon: np.ndarray,
    heading: np.ndarray, radius_m: float = 50.0,
) -> list[VehicleState]:  # fmt: skip
    """Vehicles on the segment they are driving (heading NaN: unknown), with the seconds left
    on it; those not within ``radius_m`` of a segment are left out."""
    if not ids:
        return []
    snap = index.snap(lat, lon, heading, radius_m=radius_m)
    return [
        VehicleState(v, int(s), float((1.0 - f) * graph.travel_time_s[s]))
        for v, s, f in zip(ids, snap.segment.tolist(), snap.offset_frac.tolist(), strict=True)
        if s >= 0
    ]


def recommend_at(con: duckdb.DuckDBPyConnection, settings: Settings,
                 at: datetime) -> Recommendation:  # fmt: skip
    """The coordinated plan for every vacant vehicle at ``at``, learned from the days
    before ``at``'s day and using the stored forecasts of that day when there are some."""
    day = at.astimezone(settings.tz).date()
    origin = local_midnight(day, settings.tz)
    g = day_guidance(con, settings, day)
    graph, rec, demand, demand_at, habits_at = (g.graph, g.recommender, g.demand, g.demand_at,
                                                g.habits_at)  # fmt: skip
    vehicles, unplaced = vacant_vehicles(con, graph, at)
    if not vehicles:
        raise LookupError(
            f"no vacant vehicle on the road network in the {LIVE_WINDOW_MIN:g} min before {at}"
            f" ({unplaced} vacant elsewhere)"
        )
    t = (at - origin).total_seconds()
    started = time.perf_counter()
    now = demand_at(t)
    routes = rec.plan(FleetState(t, vehicles, now, habits_at(t)))
    horizon_min = Slotting.of_forecast(settings.forecast).horizon_min
    return Recommendation(at, routes, len(vehicles), unplaced, demand.source,
                          time.perf_counter() - started, dict(rec.checker.failures),
                          now.rate, horizon_min)  # fmt: skip


def geojson(rec: Recommendation, graph: RoadGraph) -> dict[str, Any]:
    features = [r.geojson(graph) for r in rec.routes.values()]
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


def route_map(rec: Recommendation, graph: RoadGraph, path: Path) -> Path:
    """The road network in grey, the busiest quarter of it by forecast demand in orange, and
    every route coloured by the chance of having found a passenger along it; a dot where
    each taxi starts."""
    from matplotlib.collections import LineCollection

    from taxinav.plotting import save, subplots

    fig, ax = subplots(figsize=(10, 5.5))
    roads = [np.column_stack(graph.shape(s)[::-1]) for s in range(graph.n_segments)]
    ax.add_collection(LineCollection(roads, colors="#ccc", linewidths=0.5))
    if rec.rate is not None and rec.rate.max() > 0:
        # The demand the plan saw: expected pickups over the horizon, busiest roads widest.
        expected = rec.rate * rec.horizon_min * 60.0
        busy = np.flatnonzero(expected >= np.quantile(expected, 0.75))
        top = float(np.quantile(expected[busy], 0.95))  # a few hot spots would wash out the rest
        level = np.minimum(expected[busy] / top, 1.0)
        heat = LineCollection([roads[s] for s in busy], array=expected[busy], cmap="YlOrRd",
                              linewidths=0.8 + 2.5 * level, alpha=0.35 + 0.5 * level)  # fmt: skip
        heat.set_clim(0, top)
        ax.add_collection(heat)
        fig.colorbar(heat, ax=ax, label=f"forecast pickups in the next {rec.horizon_min} min",
                     pad=0.01)  # fmt: skip
    lines, chance = [], []
    for r in rec.routes.values():
        for s, p in zip(r.segments.tolist(), r.p_cumulative.tolist(), strict=True):
            lines.append(np.column_stack(graph.shape(s)[::-1]))
            chance.append(p)
    if lines:
        coll = LineCollection(lines, array=np.array(chance), cmap="viridis", linewidths=2.4)
        coll.set_clim(0, 1)
        ax.add_collection(coll)
        fig.colorbar(coll, ax=ax, label="chance of a passenger so far")
        start = np.array([graph.shape(r.start_segment) for r in rec.routes.values()],
                         dtype=object)  # fmt: skip
        ax.scatter([s[1][-1] for s in start], [s[0][-1] for s in start], s=8, c="#c33",
                   zorder=3, label="vacant taxi")  # fmt: skip
        ax.legend(loc="lower left")
    ax.autoscale()
    ax.set_aspect(1 / np.cos(np.radians(float(graph.mid_lat.mean()))))
    who = next(iter(rec.routes)) if len(rec.routes) == 1 else f"{len(rec.routes)} taxis"
    ax.set_title(f"coordinated routes at {rec.at:%Y-%m-%d %H:%M} ({who}) over the forecast")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    return save(fig, path)
