"""Simulation runs: a period's shared parts, one day's world, and one seeded run.

Policies come in as factories (``(origin, seed) -> Policy``), learned by the caller from
data before the period; this module never knows which policies exist.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa

from taxinav.calendar import local_midnight
from taxinav.roads import RoadGraph, read_graph
from taxinav.sim import demand
from taxinav.sim.engine import SimConfig, Simulation
from taxinav.sim.kpi import SF_2008, Tariff, summarize
from taxinav.sim.policies import Policy
from taxinav.sim.replay import build_network, hourly_counts, load_world, speed_factors
from taxinav.sim.world import Network, World

PolicyFactory = Callable[[datetime, int], Policy]  # (day's origin, seed) -> fresh policy


@dataclass(frozen=True)
class RunConfig:
    """What a simulated period and its runs read: the fleet's time zone, the base seed and
    the simulator's knobs (``guidance.experiment.run_config`` builds it from the settings)."""

    tz: ZoneInfo  # the fleet's city: days are local days
    seed: int  # base seed; a run's seed is ``seed + its index``, a day's demand boost too
    patience_s: float  # how long a hail waits
    tick_s: float  # simulation clock step
    match_radius_m: float  # a taxi this close serves a hail
    gap_limit_s: float  # a vehicle silent this long has left the fleet (ingest's gap limit)
    return_limit_s: float  # a cab back with a passenger within this stays in the area
    traffic_speed: bool = True  # scale free-flow speeds by the real speed of each local hour
    demand_boost: bool = False  # add estimated unserved hails (sim/demand.py)
    tariff: Tariff = SF_2008  # the meter that prices the requests


def real_kpis(
    con: duckdb.DuckDBPyConnection, graph: RoadGraph, origin: datetime, end: datetime,
    tz: ZoneInfo,
) -> dict[str, Any]:  # fmt: skip
    """The same KPIs from real data, with the simulator's definitions: a spell counts when it
    starts in the period, never leaves the area (every fix of it is inside, the same test the
    map matcher applies) and ends in a matched pickup; spells that left are cut, as in the
    simulator. Occupancy is the share of in-area fixes that carry a passenger."""
    box = {"la0": float(graph.shape_lat.min()), "la1": float(graph.shape_lat.max()),
           "lo0": float(graph.shape_lon.min()), "lo1": float(graph.shape_lon.max()),
           "o": origin, "e": end}  # fmt: skip
    t = con.sql(
        f"""SELECT s.duration_s / 60 AS m,
                   hour(timezone('{tz.key}', s.start_ts)) // 4 AS block
            FROM vacant_spells s
            JOIN trip_end_matches p ON p.vehicle_id = s.vehicle_id AND p.ts = s.end_ts
             AND p.end_kind = 'pickup' AND p.status = 'matched'
            JOIN spell_match_status m ON m.spell_id = s.spell_id
             AND m.n_points = s.n_fixes + 1  -- all vacant fixes and the pickup fix inside
            WHERE s.end_reason = 'pickup' AND s.start_ts >= $o AND s.start_ts < $e
              AND s.start_lat BETWEEN $la0 AND $la1 AND s.start_lon BETWEEN $lo0 AND $lo1""",
        params=box,
    ).to_arrow_table()
    spells, blocks = t["m"].to_numpy(), t["block"].to_numpy()
    occ = con.sql(
        """SELECT avg(occupied::INT) FROM telemetry WHERE ts >= $o AND ts < $e
             AND lat BETWEEN $la0 AND $la1 AND lon BETWEEN $lo0 AND $lo1""",
        params=box,
    ).fetchall()[0][0]
    return {
        "vacant_median_min": float(np.median(spells)) if spells.size else float("nan"),
        "vacant_mean_min": float(spells.mean()) if spells.size else float("nan"),
        "vacant_median_by_block": {
            int(b): float(np.median(spells[blocks == b])) for b in np.unique(blocks)
        },
        "spells": int(spells.size),
        "occupancy": float(occ) if occ is not None else float("nan"),
    }


def groups(world: World, share: float, seed: int) -> np.ndarray:
    """Group 0 (policy A) for a share of real vehicles, drawn per vehicle with the seed (the
    same vehicles for every policy pair of a seed: runs are paired)."""
    vehicles = np.unique(world.presence.vehicle)
    rng = np.random.default_rng(seed + 7919)
    in_a = dict(zip(vehicles.tolist(), (rng.random(vehicles.size) < share).tolist(), strict=True))
    return np.array([0 if in_a[v] else 1 for v in world.presence.vehicle.tolist()])


@dataclass(frozen=True)
class Period:
    """What every day of a simulated period shares: the graph, the network, the speeds."""

    graph: RoadGraph
    network: Network
    speed: np.ndarray | None
    boost: np.ndarray
    estimated_unserved_share: float


def prepare(con: duckdb.DuckDBPyConnection, config: RunConfig, start: date) -> Period:
    """Speeds and the hail boost, learned once, only from data before ``start``."""
    graph = read_graph(con)
    first = local_midnight(start, config.tz)
    speed = speed_factors(con, graph, first, config.tz) if config.traffic_speed else None
    reach = build_network(graph, config.match_radius_m)
    passes, pickups, n_days = hourly_counts(con, graph.n_segments, first, config.tz)
    boost = demand.boost_factors(reach, passes, n_days, config.patience_s)
    return Period(graph, reach, speed, boost, demand.unserved_share(pickups, boost))


def day_world(
    con: duckdb.DuckDBPyConnection, config: RunConfig, period: Period, day: date, index: int
) -> World:
    """The real requests and fleet presence of one local day."""
    origin = local_midnight(day, config.tz)
    world = load_world(
        con, period.graph, origin, 1, config.tz, match_radius_m=config.match_radius_m,
        gap_limit_s=config.gap_limit_s, speed_by_local_hour=period.speed,
        network=period.network, return_limit_s=config.return_limit_s, tariff=config.tariff,
    )  # fmt: skip
    if config.demand_boost:
        world = demand.boosted(world, period.boost, np.random.default_rng(config.seed + index))
    return world


@dataclass(frozen=True)
class SeedRun:
    """One simulation's event log, its KPIs, the policies that drove it and its seconds."""

    events: pa.Table
    kpis: dict[str, Any]
    policies: list[Policy]
    seconds: float


def run_seed(
    world: World, factories: Sequence[PolicyFactory], config: RunConfig, day: date, seed: int,
    share: float, dispatch_share: float | tuple[float, ...],
) -> SeedRun:  # fmt: skip
    """One simulation of ``day``: group 0 (``share`` of the vehicles) on the first policy,
    the rest on the second (all on the first if there is one)."""
    t0 = time.perf_counter()
    group = groups(world, share if len(factories) > 1 else 1.0, config.seed + seed)
    origin = local_midnight(day, config.tz)
    sim_config = SimConfig(config.patience_s, config.tick_s, config.seed + seed, dispatch_share)
    policies = [f(origin, config.seed + seed) for f in factories]
    events = Simulation(world, policies, group, sim_config).run().table()
    kpis = summarize(events, world.horizon_s)
    return SeedRun(events, kpis, policies, time.perf_counter() - t0)
