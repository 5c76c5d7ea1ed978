"""Simulation jobs: build worlds, learn policies from earlier days, run seeds, compare."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from taxinav.features.calendar import local_midnight
from taxinav.pipeline.guidance import GUIDED, GuidedFactory, guided_factory
from taxinav.roads import RoadGraph, read_graph
from taxinav.routing import reliability
from taxinav.routing.guided import GuidedPolicy
from taxinav.settings import Settings
from taxinav.sim import Network, Policy, RandomWalk, SimConfig, Simulation, World, demand, summarize
from taxinav.sim import report as sim_report
from taxinav.sim.booking import BookingModel
from taxinav.sim.events import Kind
from taxinav.sim.learned import HistoricalBehaviour, learn_historical, learn_hotspot
from taxinav.sim.replay import build_network, hourly_counts, load_world, speed_factors

POLICIES = ("random", "historical", "hotspot")
ALL_POLICIES = (*POLICIES, *GUIDED)


def make_policy(
    name: str, con: duckdb.DuckDBPyConnection, network: Network, before: datetime,
    settings: Settings,
) -> Policy | GuidedFactory:  # fmt: skip
    """A policy learned only from data before ``before`` (the start of the simulated period);
    guided policies come as a factory that makes a fresh one for each simulated day."""
    hour = before.astimezone(settings.tz).hour
    if name in GUIDED:
        behaviour = learn_historical(con, network, before, settings.timezone, hour)
        return guided_factory(name, con, network, before, settings, behaviour)
    if name == "random":
        return RandomWalk(network)
    if name == "historical":
        return learn_historical(con, network, before, settings.timezone, hour)
    if name == "hotspot":
        return learn_hotspot(con, network, before, settings.timezone, hour)
    raise ValueError(f"unknown policy {name!r}; choose from {', '.join(ALL_POLICIES)}")


def real_kpis(
    con: duckdb.DuckDBPyConnection, graph: RoadGraph, origin: datetime, end: datetime,
    tz_name: str = "UTC",
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
                   hour(timezone('{tz_name}', s.start_ts)) // 4 AS block
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


def _groups(world: World, share: float, seed: int) -> np.ndarray:
    """Group 0 (policy A) for a share of real vehicles, drawn per vehicle with the seed."""
    vehicles = np.unique(world.presence.vehicle)
    rng = np.random.default_rng(seed + 7919)
    in_a = dict(zip(vehicles.tolist(), (rng.random(vehicles.size) < share).tolist(), strict=True))
    return np.array([0 if in_a[v] else 1 for v in world.presence.vehicle.tolist()])


@dataclass(frozen=True)
class Period:
    """What every day of a simulated period shares: the graph, the network, learned policies."""

    graph: RoadGraph
    network: Network
    policies: list[Policy | GuidedFactory]
    names: list[str]
    speed: np.ndarray | None
    boost: np.ndarray
    estimated_unserved_share: float


def prepare(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: date, names: list[str]
) -> Period:
    """Learn the policies and speeds once, only from data before ``start``."""
    graph = read_graph(con)
    first = local_midnight(start, settings.tz)
    cfg = settings.sim
    speed = speed_factors(con, graph, first, settings.timezone) if cfg.traffic_speed else None
    reach = build_network(graph, cfg.match_radius_m)
    policies = [make_policy(n, con, reach, first, settings) for n in names]
    passes, pickups, n_days = hourly_counts(con, graph.n_segments, first, settings.timezone)
    boost = demand.boost_factors(reach, passes, n_days, cfg.patience_s)
    return Period(graph, reach, policies, names, speed, boost,
                  demand.unserved_share(pickups, boost))  # fmt: skip


def day_world(
    con: duckdb.DuckDBPyConnection, settings: Settings, period: Period, day: date, index: int
) -> World:
    """The real requests and fleet presence of one local day."""
    cfg = settings.sim
    origin = local_midnight(day, settings.tz)
    world = load_world(
        con, period.graph, origin, 1, match_radius_m=cfg.match_radius_m,
        gap_limit_s=settings.ingest.gap_limit_min * 60, speed_by_local_hour=period.speed,
        origin_local_hour=origin.astimezone(settings.tz).hour, network=period.network,
        return_limit_s=cfg.return_limit_min * 60,
    )  # fmt: skip
    if cfg.demand_boost:
        rng = np.random.default_rng(settings.seed + index)
        hour = origin.astimezone(settings.tz).hour
        world = dataclasses.replace(
            world, requests=demand.boosted(world.requests, period.boost, hour, rng)
        )
    return world


def run_seed(
    world: World, period: Period, settings: Settings, day: date, seed: int, share: float,
    dispatch_share: float | tuple[float, ...],
) -> tuple[pa.Table, dict[str, Any], float]:  # fmt: skip
    """One simulation: the event log, its KPIs (with planning statistics of guided
    policies) and the seconds it took."""
    t0 = time.perf_counter()
    group = _groups(world, share if len(period.names) > 1 else 1.0, settings.seed + seed)
    cfg = settings.sim
    origin = local_midnight(day, settings.tz)
    config = SimConfig(cfg.patience_s, cfg.tick_s, settings.seed + seed, dispatch_share,
                       origin.astimezone(settings.tz).hour)  # fmt: skip
    policies: list[Policy] = []
    for p in period.policies:
        if isinstance(p, GuidedFactory):
            p = p.for_day(origin, settings.seed + seed)
        elif isinstance(p, HistoricalBehaviour):
            p = p.on_day(origin, settings.timezone)
        policies.append(p)
    events = Simulation(world, policies, group, config).run().table()
    kpis = summarize(events, world.horizon_s)
    for p in policies:
        if isinstance(p, GuidedPolicy) and p.plan_seconds:
            secs = np.array(p.plan_seconds)
            kpis.setdefault("planning", {})[p.name] = {
                "plans": int(secs.size),
                "mean_s": float(secs.mean()),
                "p95_s": float(np.quantile(secs, 0.95)),
                "rejected_routes": dict(p.recommender.checker.failures),
                "stated_chance": _stated_chance(p, events, world.horizon_s),
            }
    return events, kpis, time.perf_counter() - t0


def _stated_chance(policy: GuidedPolicy, events: pa.Table, end_s: float) -> dict[str, Any]:
    """How the chance of a passenger stated on the policy's routes compares with the run."""
    if not policy.stated:
        return {"known": 0}
    t, vehicle, duration, p = np.array(policy.stated, dtype=np.float64).T
    kind = events.column("kind").to_numpy(zero_copy_only=False)
    ev_t, ev_vehicle = events.column("t").to_numpy(), events.column("vehicle").to_numpy()
    pick, leave = kind == Kind.PICKUP.value, kind == Kind.LEAVE.value
    o = reliability.route_outcomes(t, vehicle.astype(np.int64), duration, p,
                                   ev_t[pick], ev_vehicle[pick],
                                   ev_t[leave], ev_vehicle[leave], end_s)  # fmt: skip
    known = int(o.known.sum())
    return {
        "known": known,
        "censored": int(o.known.size - known),
        "stated": float(o.p[o.known].mean()) if known else None,
        "found": float(o.found[o.known].mean()) if known else None,
        "log_loss": reliability.log_loss(o) if known else None,
        "hazard_scale_fit": reliability.fit_hazard_scale(o),
        "table": reliability.reliability_table(o),
    }


def simulate(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: date, days: int, policy: str,
    *, share: float = 1.0, other: str | None = None, seeds: int = 1,
    json_out: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Run each day of the period with each seed; KPIs per group and the real ones."""
    names = [policy] if other is None or share >= 1.0 else [policy, other]
    # Learned once from the days before the period; they keep no state between days.
    period = prepare(con, settings, start, names)
    booking = resolve_booking(con, settings, start)
    shares: dict[str, tuple[float, ...]] = {}
    runs: list[dict[str, Any]] = []
    first_log: pa.Table | None = None
    for d in range(days):
        day = start + timedelta(days=d)
        world = day_world(con, settings, period, day, d)
        origin = local_midnight(day, settings.tz)
        real = real_kpis(con, period.graph, origin, origin + timedelta(days=1), settings.timezone)
        shares[day.isoformat()] = day_shares(booking, world, day, settings)
        for seed in range(seeds):
            events, kpis, seconds = run_seed(
                world, period, settings, day, seed, share, shares[day.isoformat()]
            )
            log_dir = settings.home / "sim" / policy
            log_dir.mkdir(parents=True, exist_ok=True)
            pq.write_table(events, log_dir / f"events_{day.isoformat()}_seed{seed}.parquet")
            if first_log is None:
                first_log = events
            runs.append({"day": day.isoformat(), "seed": seed, "seconds": seconds,
                         "real": real, **kpis, "group_policy": dict(enumerate(names))})  # fmt: skip
    out = {
        "estimated_unserved_share": period.estimated_unserved_share,
        "demand_boost": settings.sim.demand_boost,
        "dispatch_share": shares,
        "start": start.isoformat(),
        "days": days,
        "policy": policy,
        "share": share,
        "other": other,
        "seeds": seeds,
        "runs": runs,
        "summary": _spread(runs),
    }
    out_dir = settings.reports_dir / "sim"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = json_out or out_dir / f"sim_{policy}.json"
    target.write_text(json.dumps(out, indent=1, default=float))
    assert first_log is not None
    figures = sim_report.plots(
        first_log, dict(enumerate(names)), period.graph.mid_lat, period.graph.mid_lon,
        out_dir / policy,
    )  # fmt: skip
    (out_dir / policy / "report.md").write_text(sim_report.markdown(out, figures))
    return out


def resolve_booking(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: date
) -> BookingModel:
    """The configured fixed booking share, or the model calibrated on the days before
    ``start``."""
    if settings.sim.dispatch_share is not None:
        return BookingModel.fixed(settings.sim.dispatch_share)
    from taxinav.pipeline.calibration import calibrated_booking

    return calibrated_booking(con, settings, start)


def day_shares(booking: BookingModel, world: World, day: date, settings: Settings
               ) -> tuple[float, ...]:  # fmt: skip
    """The booking share of each 4-hour block of ``day``, from its demand pressure."""
    return booking.for_day(world, local_midnight(day, settings.tz).astimezone(settings.tz).hour)


def _spread(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and min–max over days and seeds of the main KPIs, per group."""
    out: dict[str, Any] = {}
    groups = sorted({g for r in runs for g in r["groups"]})
    for g in groups:
        rows = [r["groups"][g] for r in runs if g in r["groups"]]
        name = runs[0]["group_policy"][g]
        metrics = {
            "served_share": [r["served"] / r["requests"] for r in runs],
            "vacant_median_min": [x["vacant_before_pickup"]["median_min"] for x in rows],
            "vacant_mean_min": [x["vacant_before_pickup"]["mean_min"] for x in rows],
            "occupancy": [x["occupancy"] for x in rows],
            "empty_km_per_trip": [x["empty_km_per_trip"] for x in rows],
            "revenue_per_day": [x["revenue"] for x in rows],
            "pickups_per_vacant_h": [x["pickups_per_vacant_h"] for x in rows],
            "revenue_per_present_h": [x["revenue_per_present_h"] for x in rows],
        }
        out[name] = {
            k: {"mean": float(np.mean(v)), "min": float(np.min(v)), "max": float(np.max(v))}
            for k, v in metrics.items()
        }
    out["real"] = {
        k: float(np.mean([r["real"][k] for r in runs]))
        for k in ("vacant_median_min", "vacant_mean_min", "occupancy")
    }
    return out
