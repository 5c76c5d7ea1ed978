"""Named cruising policies as factories, and simulation runs of them over days × seeds."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from taxinav.calendar import local_midnight
from taxinav.guidance.demand import DEMAND_SOURCES
from taxinav.guidance.factory import GUIDED, GuidedFactory, guided_factory
from taxinav.guidance.heatmap import HeatmapFactory, HeatmapPolicy
from taxinav.guidance.policy import GuidedPolicy
from taxinav.mlops.registry import ModelCard
from taxinav.routing import reliability
from taxinav.settings import Settings
from taxinav.sim import (
    CalibrationConfig,
    Network,
    Policy,
    PolicyFactory,
    RandomWalk,
    RunConfig,
    SeedRun,
    Tariff,
)
from taxinav.sim import report as sim_report
from taxinav.sim.calibration import resolve_booking
from taxinav.sim.events import Kind
from taxinav.sim.learned import HistoricalBehaviour, learn_historical, learn_hotspot
from taxinav.sim.runs import day_world, prepare, real_kpis
from taxinav.sim.runs import run_seed as run_sim_seed
from taxinav.sim.world import World

POLICIES = ("random", "historical", "hotspot")
ALL_POLICIES = (*POLICIES, *GUIDED, "heatmap")


def run_config(settings: Settings) -> RunConfig:
    """What the simulator's runs read from the settings."""
    sim = settings.sim
    return RunConfig(
        tz=settings.tz, seed=settings.seed, patience_s=sim.patience_s, tick_s=sim.tick_s,
        match_radius_m=sim.match_radius_m, gap_limit_s=settings.ingest.gap_limit_min * 60,
        return_limit_s=sim.return_limit_min * 60, traffic_speed=sim.traffic_speed,
        demand_boost=sim.demand_boost, tariff=Tariff(**sim.tariff.model_dump()),
    )  # fmt: skip


def calibration_config(settings: Settings) -> CalibrationConfig:
    """What the booking calibration reads from the settings; models are cached under
    ``home/sim/calibration``."""
    sim = settings.sim
    return CalibrationConfig(
        run_config(settings), settings.home / "sim" / "calibration", sim.calibration_days,
        sim.dispatch_grid, sim.dispatch_share, settings.forecast.slot_minutes,
    )  # fmt: skip


@dataclass(frozen=True)
class PolicySpec:
    """A named cruising policy and, for guidance, what it routes on: ``demand`` (see
    ``guidance/demand.py``) and ``competitors`` (the planner's model of unguided drivers:
    ``habits`` learned before the period, or ``uniform``)."""

    name: str
    demand: str = "closed-loop"
    competitors: str = "habits"

    @staticmethod
    def parse(text: str) -> PolicySpec:
        """``name`` or ``name:demand`` or ``name:demand:competitors``."""
        parts = text.split(":")
        if parts[0] not in ALL_POLICIES:
            raise ValueError(f"unknown policy {parts[0]!r}; choose from {', '.join(ALL_POLICIES)}")
        spec = PolicySpec(*parts[:3])
        if (
            len(parts) > 3
            or spec.demand not in DEMAND_SOURCES
            or spec.competitors not in ("habits", "uniform")
        ):
            raise ValueError(
                f"policy {text!r}: use name[:demand[:competitors]] with demand one of "
                f"{', '.join(DEMAND_SOURCES)} and competitors habits or uniform"
            )
        return spec


@dataclass
class PolicyBook:
    """Policies learned once for a period. The planner's beliefs come only from days before
    ``before``. The simulated drivers (the world's ``historical`` taxis) replay habits
    learned from every day before ``world_until`` except the simulated day itself: as much
    of the drivers as the data holds, but no knowledge of where that day's passengers were —
    and never what the planner is handed. Without ``world_until`` both use the days before
    the period."""

    con: duckdb.DuckDBPyConnection
    network: Network
    settings: Settings
    before: datetime
    world_until: datetime | None = None
    card: ModelCard | None = None
    _habits: dict[tuple[datetime, datetime | None], HistoricalBehaviour] = field(
        default_factory=dict
    )
    _guided: dict[tuple[str, str, str], GuidedFactory] = field(default_factory=dict)

    def habits(self, until: datetime, without: datetime | None = None) -> HistoricalBehaviour:
        """Drivers' habits from the spells before ``until``, leaving out the day starting at
        ``without``."""
        if (until, without) not in self._habits:
            day = (without, without + timedelta(days=1)) if without is not None else None
            self._habits[until, without] = learn_historical(
                self.con, self.network, until, self.settings.tz, exclude=day
            )
        return self._habits[until, without]

    def world_habits(self, origin: datetime) -> HistoricalBehaviour:
        if self.world_until is None:
            return self.habits(self.before)
        return self.habits(self.world_until, origin)

    def guided(self, spec: PolicySpec) -> GuidedFactory:
        key = (spec.name if spec.name in GUIDED else "guided", spec.demand, spec.competitors)
        if key not in self._guided:
            self._guided[key] = guided_factory(
                key[0], self.con, self.network, self.before, self.settings,
                self.habits(self.before), demand=spec.demand, competitors=spec.competitors,
                card=self.card,
            )  # fmt: skip
            self.card = self.card or self._guided[key].card
        return self._guided[key]

    def factory(self, spec: PolicySpec) -> PolicyFactory:
        tz = self.settings.tz
        if spec.name in GUIDED:
            return self.guided(spec).for_day
        if spec.name == "heatmap":
            return HeatmapFactory(self.guided(spec)).for_day
        if spec.name == "random":
            walk = RandomWalk(self.network)
            return lambda origin, seed: walk
        if spec.name == "historical":
            return lambda origin, seed: self.world_habits(origin).on_day(origin, tz)
        if spec.name == "hotspot":
            hot = learn_hotspot(self.con, self.network, self.before, tz)
            return lambda origin, seed: hot.on_day(origin, tz)
        raise ValueError(f"unknown policy {spec.name!r}; choose from {', '.join(ALL_POLICIES)}")


def data_end(con: duckdb.DuckDBPyConnection) -> datetime:
    """Just after the warehouse's last fix: the simulated drivers' habits may use it all."""
    last = con.execute("SELECT max(ts) FROM telemetry").fetchall()[0][0]
    if last is None:
        raise LookupError("no telemetry in the warehouse; run `taxinav ingest` first")
    return cast(datetime, last) + timedelta(seconds=1)


def make_policy(
    name: str, con: duckdb.DuckDBPyConnection, network: Network, before: datetime,
    settings: Settings, world_until: datetime | None = None,
) -> PolicyFactory:  # fmt: skip
    """A policy factory (``PolicySpec.parse`` text) learned as ``PolicyBook`` says."""
    return PolicyBook(con, network, settings, before, world_until).factory(PolicySpec.parse(name))


def run_seed(
    world: World, factories: list[PolicyFactory], config: RunConfig, day: date, seed: int,
    share: float, dispatch_share: float | tuple[float, ...],
) -> SeedRun:  # fmt: skip
    """One simulation, with the planning statistics of guided policies in its KPIs."""
    run = run_sim_seed(world, factories, config, day, seed, share, dispatch_share)
    run.kpis["demand"] = {str(g): p.demand_label for g, p in enumerate(run.policies)
                          if isinstance(p, GuidedPolicy | HeatmapPolicy)}  # fmt: skip
    for p in run.policies:
        if isinstance(p, GuidedPolicy) and p.plan_seconds:
            secs = np.array(p.plan_seconds)
            run.kpis.setdefault("planning", {})[p.name] = {
                "plans": int(secs.size),
                "mean_s": float(secs.mean()),
                "p95_s": float(np.quantile(secs, 0.95)),
                "rejected_routes": dict(p.recommender.checker.failures),
                "stated_chance": stated_chance(p, run.events, world.horizon_s),
            }
    return run


def stated_chance(policy: GuidedPolicy, events: pa.Table, end_s: float) -> dict[str, Any]:
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


REAL_KPIS = ("vacant_median_min", "vacant_mean_min", "occupancy")


@dataclass(frozen=True)
class Spread:
    """One KPI's mean and range over days × seeds."""

    mean: float
    min: float
    max: float

    def to_json(self) -> dict[str, float]:
        return {"mean": self.mean, "min": self.min, "max": self.max}


@dataclass(frozen=True)
class Summary:
    """The main KPIs of each policy's group over days × seeds, and the real ones."""

    groups: Mapping[str, Mapping[str, Spread]]  # policy → KPI → spread
    real: Mapping[str, float]  # ``REAL_KPIS`` of the real days, mean over days × seeds

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            name: {k: v.to_json() for k, v in kpis.items()} for name, kpis in self.groups.items()
        }
        out["real"] = dict(self.real)
        return out


@dataclass(frozen=True)
class DayRun:
    """One simulated day with one seed."""

    day: date
    seed: int
    seconds: float  # wall time of the run
    real: Mapping[str, Any]  # the real day's KPIs (``sim.runs.real_kpis``)
    kpis: Mapping[str, Any]  # the run's KPIs, overall and per group (``sim.kpi.summarize``)
    # group → what its guided or heatmap taxis routed on: the demand source and the model
    demand: Mapping[str, Mapping[str, Any]]
    planning: Mapping[str, Any]  # guided policy → its planning statistics (none: empty)

    def to_json(self, policies: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {"day": self.day.isoformat(), "seed": self.seed,
                               "seconds": self.seconds, "real": self.real, **self.kpis,
                               "demand": self.demand}  # fmt: skip
        if self.planning:
            out["planning"] = self.planning
        out["group_policy"] = dict(enumerate(policies))
        return out


@dataclass(frozen=True)
class SimulationResult:
    """What ``simulate`` ran and measured; ``to_json`` is the ``--json`` file's content."""

    start: date
    days: int
    policy: str
    share: float  # of the vehicles on ``policy``
    other: str | None
    seeds: int
    policies: tuple[str, ...]  # each group's policy (one group when ``other`` does not run)
    demand_boost: bool
    estimated_unserved_share: float
    dispatch_share: Mapping[date, tuple[float, ...]]  # booking share per block, per day
    runs: tuple[DayRun, ...]  # day by day, seed by seed
    summary: Summary

    def to_json(self) -> dict[str, Any]:
        return {
            "estimated_unserved_share": self.estimated_unserved_share,
            "demand_boost": self.demand_boost,
            "dispatch_share": {d.isoformat(): s for d, s in self.dispatch_share.items()},
            "start": self.start.isoformat(),
            "days": self.days,
            "policy": self.policy,
            "share": self.share,
            "other": self.other,
            "seeds": self.seeds,
            "runs": [r.to_json(self.policies) for r in self.runs],
            "summary": self.summary.to_json(),
        }


def simulate(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: date, days: int, policy: str,
    *, share: float = 1.0, other: str | None = None, seeds: int = 1,
    json_out: Path | None = None,
) -> SimulationResult:  # fmt: skip
    """Run each day of the period with each seed; KPIs per group and the real ones."""
    names = (policy,) if other is None or share >= 1.0 else (policy, other)
    # Learned once from the days before the period; they keep no state between days.
    config = run_config(settings)
    period = prepare(con, config, start)
    first = local_midnight(start, settings.tz)
    book = PolicyBook(con, period.network, settings, first, data_end(con))
    factories = [book.factory(PolicySpec.parse(n)) for n in names]
    booking = resolve_booking(con, calibration_config(settings), start)
    shares: dict[date, tuple[float, ...]] = {}
    runs: list[DayRun] = []
    first_log: pa.Table | None = None
    for d in range(days):
        day = start + timedelta(days=d)
        world = day_world(con, config, period, day, d)
        origin = local_midnight(day, settings.tz)
        real = real_kpis(con, period.graph, origin, origin + timedelta(days=1), settings.tz)
        shares[day] = booking.for_day(world)
        for seed in range(seeds):
            run = run_seed(world, factories, config, day, seed, share, shares[day])
            log_dir = settings.home / "sim" / policy
            log_dir.mkdir(parents=True, exist_ok=True)
            pq.write_table(run.events, log_dir / f"events_{day.isoformat()}_seed{seed}.parquet")
            if first_log is None:
                first_log = run.events
            kpis = {k: v for k, v in run.kpis.items() if k not in ("demand", "planning")}
            runs.append(DayRun(day, seed, run.seconds, real, kpis, run.kpis["demand"],
                               run.kpis.get("planning", {})))  # fmt: skip
    result = SimulationResult(
        start, days, policy, share, other, seeds, names, settings.sim.demand_boost,
        period.estimated_unserved_share, shares, tuple(runs), _spread(runs, names),
    )  # fmt: skip
    out = result.to_json()
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
    return result


def _spread(runs: list[DayRun], policies: tuple[str, ...]) -> Summary:
    """Mean and min–max over days and seeds of the main KPIs, per group."""
    out: dict[str, dict[str, Spread]] = {}
    groups = sorted({g for r in runs for g in r.kpis["groups"]})
    for g in groups:
        rows = [r.kpis["groups"][g] for r in runs if g in r.kpis["groups"]]
        metrics = {
            "served_share": [r.kpis["served"] / r.kpis["requests"] for r in runs],
            "vacant_median_min": [x["vacant_before_pickup"]["median_min"] for x in rows],
            "vacant_mean_min": [x["vacant_before_pickup"]["mean_min"] for x in rows],
            "occupancy": [x["occupancy"] for x in rows],
            "empty_km_per_trip": [x["empty_km_per_trip"] for x in rows],
            "revenue_per_day": [x["revenue"] for x in rows],
            "pickups_per_vacant_h": [x["pickups_per_vacant_h"] for x in rows],
            "revenue_per_present_h": [x["revenue_per_present_h"] for x in rows],
        }
        out[policies[g]] = {
            k: Spread(float(np.mean(v)), float(np.min(v)), float(np.max(v)))
            for k, v in metrics.items()
        }
    real = {k: float(np.mean([r.real[k] for r in runs])) for k in REAL_KPIS}
    return Summary(out, real)


__all__ = [
    "ALL_POLICIES",
    "POLICIES",
    "DayRun",
    "Policy",
    "SimulationResult",
    "Spread",
    "Summary",
    "calibration_config",
    "make_policy",
    "run_config",
    "run_seed",
    "simulate",
]
