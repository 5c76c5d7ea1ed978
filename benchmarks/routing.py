"""Cruising guidance in the simulator (needs `make demo` to have filled the warehouse).

    python benchmarks/routing.py [--quick] [--start 2008-05-26] [--days 3]
                                 [--part mixed|fleet|speed]

For each day (default: the first three days of the last week, whose simulator calibration
is shared) and each of 3 seeds (--quick: 1 day, 1 seed), prints:
1. 20 % of the fleet guided (coordinated), the rest on historical behaviour, in the same
   runs: median and mean vacant minutes before a pickup, pickups per vacant hour and
   revenue per shift hour for both groups, and the relative differences.
2. 100 % guided with coordination, 100 % guided without it, and 100 % historical behaviour:
   passengers served.
3. Planning time per refresh of the coordinated plan (target: well under a minute), and the
   chance of a passenger stated on the routes against what the taxis then found.
4. (--part speed) on the whole network at 18:00 of the first day: one value iteration
   (target ≤ 200 ms), one taxi's route drawn after it (≤ 10 ms), and the coordinated plan for
   500 vacant taxis (≤ 2 s), cold and warm-started.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from datetime import date
from statistics import mean
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from taxinav.features.calendar import local_midnight
from taxinav.pipeline.batch import open_warehouse
from taxinav.pipeline.guidance import GuidedFactory
from taxinav.pipeline.simulation import prepare, simulate
from taxinav.routing.coordination import Coordinator, Fleet
from taxinav.routing.recommender import FleetState, VehicleState
from taxinav.settings import get_settings

START = date(2008, 5, 26)
GROUP_KPIS = (
    ("median vacant min", "vacant_median_min"),
    ("mean vacant min", "vacant_mean_min"),
    ("pickups / vacant h", "pickups_per_vacant_h"),
    ("revenue / shift h ($)", "revenue_per_present_h"),
)


def _per_run(out: dict[str, Any], group: int, key: str) -> list[float]:
    vals = []
    for r in out["runs"]:
        g = r["groups"][group]
        if key == "vacant_median_min":
            vals.append(g["vacant_before_pickup"]["median_min"])
        elif key == "vacant_mean_min":
            vals.append(g["vacant_before_pickup"]["mean_min"])
        else:
            vals.append(g[key])
    return vals


def _spread(values: list[float], fmt: str = ".2f") -> str:
    return f"{mean(values):{fmt}} [{min(values):{fmt}}–{max(values):{fmt}}]"


def mixed(runs: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="20 % guided (coordinated) vs 80 % historical behaviour, same runs: "
                  "mean \\[min–max] over days × seeds")  # fmt: skip
    for h in ("KPI", "guided", "historical", "guided vs historical (per run)", "target"):
        table.add_column(h)
    for label, key in GROUP_KPIS:
        guided = [v for out in runs for v in _per_run(out, 0, key)]
        hist = [v for out in runs for v in _per_run(out, 1, key)]
        rel = [g / h - 1 for g, h in zip(guided, hist, strict=True)]
        target = {"vacant_median_min": "≤ −20 %", "vacant_mean_min": "≤ −10 %"}.get(key, "≥ +10 %")
        table.add_row(label, _spread(guided), _spread(hist),
                      f"{mean(rel):+.1%} [{min(rel):+.1%} … {max(rel):+.1%}]", target)  # fmt: skip
    console.print(table)


def full_fleet(results: dict[str, list[dict[str, Any]]], console: Console) -> None:
    table = Table(title="100 % of the fleet on one policy: passengers served per day")
    for h in ("policy", "served", "served share", "median vacant min", "mean vacant min"):
        table.add_column(h)
    for name, outs in results.items():
        runs = [r for out in outs for r in out["runs"]]
        table.add_row(
            name,
            _spread([float(r["served"]) for r in runs], ".0f"),
            _spread([r["served"] / r["requests"] for r in runs], ".3f"),
            _spread([r["groups"][0]["vacant_before_pickup"]["median_min"] for r in runs]),
            _spread([r["groups"][0]["vacant_before_pickup"]["mean_min"] for r in runs]),
        )
    console.print(table)


def planning(outs: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="planning time per refresh (all vacant guided taxis)")
    for h in ("run", "plans", "mean s", "p95 s", "rejected routes"):
        table.add_column(h)
    for out in outs:
        for r in out["runs"]:
            for name, p in r.get("planning", {}).items():
                table.add_row(f"{r['day']} seed {r['seed']} {name}", str(p["plans"]),
                              f"{p['mean_s']:.3f}", f"{p['p95_s']:.3f}",
                              str(p["rejected_routes"] or 0))  # fmt: skip
    console.print(table)


def stated_chance(outs: list[dict[str, Any]], console: Console) -> None:
    """The chance of a passenger stated on guided routes against what followed, per run
    and pooled over the runs by bin of stated chance."""
    table = Table(title="chance of a passenger by the route's end (15 min): stated vs found")
    for h in ("run", "routes (known)", "censored", "stated", "found", "log loss", "κ refit"):
        table.add_column(h)
    pooled: dict[tuple[float, float], list[float]] = {}
    for out in outs:
        for r in out["runs"]:
            for name, p in r.get("planning", {}).items():
                c = p.get("stated_chance", {})
                if not c.get("known"):
                    continue
                table.add_row(f"{r['day']} seed {r['seed']} {name}", f"{c['known']:,}",
                              f"{c['censored']:,}", f"{c['stated']:.3f}", f"{c['found']:.3f}",
                              f"{c['log_loss']:.3f}", f"{c['hazard_scale_fit']:.2f}")  # fmt: skip
                for row in c["table"]:
                    acc = pooled.setdefault((row["lo"], row["hi"]), [0.0, 0.0, 0.0])
                    acc[0] += row["n"]
                    acc[1] += row["n"] * row["stated"]
                    acc[2] += row["n"] * row["found"]
    console.print(table)
    bins = Table(title="pooled over runs, by stated chance")
    for h in ("stated chance", "routes", "mean stated", "share found"):
        bins.add_column(h)
    for (lo, hi), (n, stated, found) in sorted(pooled.items()):
        bins.add_row(f"{lo:.2f}–{hi:.2f}", f"{int(n):,}", f"{stated / n:.3f}", f"{found / n:.3f}")
    console.print(bins)


def _timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def speed(con: Any, settings: Any, start: date, console: Console) -> None:
    """Planning speed on the real network with the stored forecasts of ``start`` at 18:00."""
    period = prepare(con, settings, start, ["guided"])
    factory = period.policies[0]
    assert isinstance(factory, GuidedFactory)
    rec, demand_at, habits_at = factory.parts(local_midnight(start, settings.tz), settings.seed)
    t = 18 * 3600.0
    demand, habits = demand_at(t), habits_at(t)
    n = rec.graph.n
    rng = np.random.default_rng(settings.seed)
    empty = Fleet(*(np.zeros(0, dtype=np.int64) for _ in range(4)))
    solo = Coordinator(rec.graph, dataclasses.replace(rec.config, coordinate=False))
    vi = _timed(lambda: solo.plan(demand, empty, habits), 10)
    fleet = [VehicleState(f"v{i}", int(s), 0.0) for i, s in enumerate(rng.integers(0, n, 500))]
    state = FleetState(t, fleet, demand, habits)
    cold = _timed(lambda: rec.plan(state), 1)
    warm = _timed(lambda: rec.plan(state), 5)
    served, rejected = len(rec.routes), dict(rec.checker.failures)
    routes = []
    for i, segment in enumerate(rng.integers(0, n, 200)):
        t0 = time.perf_counter()
        rec.reroute(VehicleState(f"r{i}", int(segment), 0.0), t)
        routes.append(time.perf_counter() - t0)
    table = Table(title=f"planning speed on the whole network ({n} segments), {start} 18:00")
    for h in ("step", "median ms", "max ms", "target"):
        table.add_column(h)
    for label, secs, target in (
        ("value iteration (one solve, 10 runs)", vi, "≤ 200 ms"),
        ("one taxi's route after it (200 taxis)", routes, "≤ 10 ms"),
        ("coordinated plan, 500 vacant taxis, cold", cold, "≤ 2,000 ms"),
        ("coordinated plan, 500 vacant taxis, warm (5 runs)", warm, "≤ 2,000 ms"),
    ):
        ms = np.array(secs) * 1000
        table.add_row(label, f"{np.median(ms):.1f}", f"{ms.max():.1f}", target)
    console.print(table)
    console.print(f"routes served in the last plan for the 500: {served}; rejected: "
                  f"{rejected or 0}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1 day, 1 seed")
    parser.add_argument("--start", default=START.isoformat(), help="first local date")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--part", choices=("mixed", "fleet", "speed"), help="only one part")
    args = parser.parse_args()
    start = date.fromisoformat(args.start)
    days, seeds = (1, 1) if args.quick else (args.days, 3)
    settings = get_settings()
    con = open_warehouse(settings)
    console = Console(width=200)
    console.print(f"{days} day(s) from {start}; {seeds} seed(s) each")
    runs: list[dict[str, Any]] = []
    if args.part == "speed":
        speed(con, settings, start, console)
        return
    if args.part in (None, "mixed"):
        out = simulate(con, settings, start, days, "guided", share=0.2, other="historical",
                       seeds=seeds)  # fmt: skip
        mixed([out], console)
        runs.append(out)
    if args.part in (None, "fleet"):
        fleet = {
            name: [simulate(con, settings, start, days, name, seeds=seeds)]
            for name in ("guided", "guided-independent", "historical")
        }
        full_fleet(fleet, console)
        runs += fleet["guided"]
    planning(runs, console)
    stated_chance(runs, console)


if __name__ == "__main__":
    main()
