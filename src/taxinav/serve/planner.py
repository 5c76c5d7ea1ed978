"""What the service learns from the warehouse for one local day: the road network, the
coordinated recommender with its road demand and drivers' habits, the H3 demand history and
the champion. Built at start-up and at each new day, then the warehouse is let go."""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from taxinav.calendar import local_midnight
from taxinav.features.counts import CountSpec
from taxinav.features.sources import network_cells
from taxinav.guidance import LiveDemand, day_guidance
from taxinav.guidance.recommend import place_vehicles
from taxinav.mlops.registry import champion_loader
from taxinav.roads import RoadGraph, SegmentIndex
from taxinav.routing.coordination import Demand
from taxinav.routing.recommender import FleetState, Recommender, VehicleState
from taxinav.routing.route import Route
from taxinav.serve.online import Predict
from taxinav.settings import Settings
from taxinav.warehouse import open_reader

log = logging.getLogger(__name__)


@dataclass
class DayContext:
    day: date
    origin: datetime
    graph: RoadGraph
    cells: list[str]
    recommender: Recommender
    demand_at: Any  # (seconds since origin) -> Demand
    habits_at: Any
    demand_source: str
    history: pa.Table  # stored h3 demand counts before the day
    champion: tuple[str, Predict] | None
    road_demand: LiveDemand  # the plan's demand; the live road forecast replaces its slots
    road_history: pa.Table  # stored road demand counts before the day
    road_champion: tuple[str, Predict] | None


# CPU niceness of the process that builds a day: it works in the background while the service
# answers from the previous day, and must not take the cores from the acknowledgements.
LOADER_NICE = 10


def load_day(settings: Settings, day: date, apart: bool = False) -> DayContext:
    """Everything the day needs. ``apart``: read and built in a child process, so the
    service's threads keep the interpreter while it works (building a day holds it for
    seconds, in stretches of up to 0.14 s); only the champions are loaded here."""
    if apart:
        ctx_mp = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx_mp, initializer=os.nice,
                                 initargs=(LOADER_NICE,)) as pool:  # fmt: skip
            ctx = pool.submit(read_day, settings, day).result()
    else:
        ctx = read_day(settings, day)
    load = champion_loader(settings)
    ctx.champion, ctx.road_champion = load("h3"), load("road")
    log.info("day %s loaded%s: %d road segments, road demand from %s", day,
             " in a child process" if apart else "", ctx.graph.n_segments,
             ctx.demand_source)  # fmt: skip
    return ctx


def read_day(settings: Settings, day: date) -> DayContext:
    """The day's network, recommender, demand and history, without the champions (a value
    that can be sent between processes); the warehouse is opened read-only and closed."""
    origin = local_midnight(day, settings.tz)
    con = open_reader(settings)
    try:
        g = day_guidance(con, settings, day)
        graph, rec, demand, demand_at, habits_at = (g.graph, g.recommender, g.demand,
                                                    g.demand_at, g.habits_at)  # fmt: skip
        since = CountSpec.of(settings).history_start(origin + timedelta(days=1))
        history = {unit: con.sql(
            """SELECT unit_id, slot_start, pickups, vacant FROM demand_counts
               WHERE unit_type = $u AND slot_start >= $s AND slot_start < $o
               ORDER BY slot_start, unit_id""",
            params={"s": since, "o": origin, "u": unit},
        ).to_arrow_table() for unit in ("h3", "road")}  # fmt: skip
    finally:
        con.close()
    cells = network_cells(graph.mid_lat, graph.mid_lon, settings.forecast.h3_resolution)
    return DayContext(day, origin, graph, cells, rec, demand_at, habits_at, demand.source,
                      history["h3"], None, demand, history["road"], None)  # fmt: skip


def place(graph: RoadGraph, index: SegmentIndex, rows: list[tuple[str, float, float, float]],
          radius_m: float = 50.0) -> list[VehicleState]:  # fmt: skip
    """Vacant vehicles (id, lat, lon, heading) on their road segment, with the time left on it."""
    return place_vehicles(graph, index, [r[0] for r in rows], np.array([r[1] for r in rows]),
                          np.array([r[2] for r in rows]), np.array([r[3] for r in rows]),
                          radius_m)  # fmt: skip


def plan(ctx: DayContext, vehicles: list[VehicleState], at: datetime) -> dict[str, Route]:
    t = (at - ctx.origin).total_seconds()
    demand: Demand = ctx.demand_at(t)
    return ctx.recommender.plan(FleetState(t, vehicles, demand, ctx.habits_at(t)))


def next_day_due(ctx: DayContext, clock: datetime) -> bool:
    return clock >= ctx.origin + timedelta(days=1)
