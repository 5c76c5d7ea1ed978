"""Simulator benchmark (needs `make demo` to have filled the warehouse).

    python benchmarks/sim.py [--quick]

Prints, for the last week of the shared data (2008-05-26 .. 06-01; --quick: 2 days, 1 seed):
the calibration tables of the historical-behaviour policy against real data for every day
(3 seeds each; overall and by 4-hour block, with seconds per simulated day of the full
fleet), then the KPI table of the three baseline policies with the spread, then the targets,
each checked on the numbers printed above:
  * day level: the median and mean vacant minutes before a pickup and the occupancy within
    ±20 % of the real values, on every day and seed;
  * at least 80 % of the replayed requests served in every run;
  * the median vacant minutes within ±25 % of the real value in every 4-hour block, on every
    seed, on at least 3 days (--quick: on every simulated day, with its one seed);
  * at most 60 s per simulated day of the full fleet (mean over a day's seeds, every day).
Exits 1, naming them, when targets are missed.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from statistics import mean
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table

from taxinav.guidance.experiment import POLICIES, simulate
from taxinav.settings import Settings, get_settings
from taxinav.sim.report import KPI_COLUMNS, kpi_rows
from taxinav.warehouse import connect

WEEK_START = date(2008, 5, 26)
DAY_TOLERANCE = 0.20  # day-level median, mean vacant time and occupancy vs real
BLOCK_TOLERANCE = 0.25  # median vacant time per 4-hour block vs real
BLOCK_DAYS = 3  # days on which every block of every seed must hold
MIN_SERVED = 0.80
MAX_SECONDS = 60.0  # per simulated day of the full fleet


@dataclass(frozen=True)
class Check:
    target: str
    measured: str
    met: bool


def _runs_by_day(out: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    days: dict[str, list[dict[str, Any]]] = {}
    for r in out["runs"]:
        days.setdefault(r["day"], []).append(r)
    return days


def _cell(values: list[float], real: float, fmt: str = ".2f") -> str:
    m = mean(values)
    return f"{m:{fmt}} [{min(values):{fmt}}–{max(values):{fmt}}] vs {real:{fmt}} ({m / real:.2f})"


DAY_KPIS: tuple[tuple[str, str, Callable[[dict[str, Any]], float]], ...] = (
    # label, real key, a run's group-0 value
    ("median vacant min", "vacant_median_min", lambda g: g["vacant_before_pickup"]["median_min"]),
    ("mean vacant min", "vacant_mean_min", lambda g: g["vacant_before_pickup"]["mean_min"]),
    ("occupancy", "occupancy", lambda g: g["occupancy"]),
)


def _overall_row(day: str, runs: list[dict[str, Any]]) -> list[str]:
    real = runs[0]["real"]
    groups = [r["groups"][0] for r in runs]
    return [
        day,
        *(
            _cell([value(g) for g in groups], real[key], ".3f" if key == "occupancy" else ".2f")
            for _, key, value in DAY_KPIS
        ),
        " ".join(f"{r['served'] / r['requests']:.1%}" for r in runs),
        f"{mean(r['seconds'] for r in runs):.1f}",
    ]


def _block_ratios(runs: list[dict[str, Any]]) -> dict[int, list[float | None]]:
    """Per block of the real day, each seed's simulated / real median (None: no spell)."""
    real = runs[0]["real"]["vacant_median_by_block"]
    out: dict[int, list[float | None]] = {}
    for b in range(6):
        if b not in real:
            continue
        sims = [r["groups"][0]["vacant_median_by_block"].get(b) for r in runs]
        out[b] = [None if x is None else x / real[b] for x in sims]
    return out


def _block_row(day: str, runs: list[dict[str, Any]], shares: list[float]) -> list[str]:
    real = runs[0]["real"]["vacant_median_by_block"]
    cells = [day]
    for b in range(6):
        sims = [r["groups"][0]["vacant_median_by_block"].get(b) for r in runs]
        sims = [x for x in sims if x is not None]
        if not sims or b not in real:
            cells.append("–")
            continue
        ratios = [x / real[b] for x in sims]
        cells.append(
            f"{mean(sims):.1f}/{real[b]:.1f} ({min(ratios):.2f}–{max(ratios):.2f}) @{shares[b]:.0%}"
        )
    return cells


def _within(ratio: float | None, tolerance: float) -> bool:
    # NaN (no real value) and None (no simulated spell) fail
    return ratio is not None and 1 - tolerance <= ratio <= 1 + tolerance


def _checks(out: dict[str, Any]) -> list[Check]:
    """Every calibration target, from the same numbers the tables print."""
    by_day = _runs_by_day(out)
    checks = []
    for label, key, value in DAY_KPIS:
        ratios = [(value(r["groups"][0]) / r["real"][key], f"{r['day']} seed {r['seed']}")
                  for r in out["runs"]]  # fmt: skip
        known = [ratio for ratio, _ in ratios if math.isfinite(ratio)]
        bad = [run for ratio, run in ratios if not _within(ratio, DAY_TOLERANCE)]
        measured = (f"sim/real {min(known):.2f}–{max(known):.2f} over {len(known)} runs"
                    if known else "no real value")  # fmt: skip
        if bad:
            measured += f"; outside in {', '.join(bad)}"
        checks.append(Check(f"day {label} within ±{DAY_TOLERANCE:.0%} of real, every day and "
                            "seed", measured, not bad))  # fmt: skip
    served = [(r["served"] / r["requests"], f"{r['day']} seed {r['seed']}") for r in out["runs"]]
    low = min(served)
    checks.append(Check(f"≥ {MIN_SERVED:.0%} of requests served in every run",
                        f"lowest {low[0]:.1%} ({low[1]})", low[0] >= MIN_SERVED))  # fmt: skip
    good_days, misses = [], []
    for day, runs in by_day.items():
        day_misses = [
            f"{day} {4 * b:02d}–{4 * b + 4:02d}h seed {r['seed']}: "
            + ("no spell" if ratio is None else f"{ratio:.2f}")
            for b, ratios in _block_ratios(runs).items()
            for r, ratio in zip(runs, ratios, strict=True)
            if not _within(ratio, BLOCK_TOLERANCE)
        ]
        misses += day_misses
        if not day_misses:
            good_days.append(day)
    need = min(BLOCK_DAYS, len(by_day))
    measured = f"{len(good_days)} of {len(by_day)} days ({', '.join(good_days) or 'none'}); "
    measured += f"{len(misses)} block misses" + (f": {'; '.join(misses)}" if misses else "")
    checks.append(Check(f"4-hour block medians within ±{BLOCK_TOLERANCE:.0%} of real on every "
                        f"seed ({out['seeds']}), on ≥ {need} days", measured,
                        len(good_days) >= need))  # fmt: skip
    slowest = max((mean(r["seconds"] for r in runs), day) for day, runs in by_day.items())
    checks.append(Check(f"≤ {MAX_SECONDS:.0f} s per simulated day (mean over seeds, every day)",
                        f"slowest {slowest[0]:.1f} s ({slowest[1]})",
                        slowest[0] <= MAX_SECONDS))  # fmt: skip
    return checks


def calibration(out: dict[str, Any], console: Console) -> list[Check]:
    """Historical policy vs real, every simulated day, spread over seeds; the targets."""
    overall = Table(
        title=f"historical policy vs real, {out['seeds']} seeds per day, booking shares per "
        "block from the day's demand pressure (calibrated on earlier days): sim mean "
        "\\[min–max] vs real (ratio); targets ±20 %, served ≥ 80 %"
    )
    for h in ("day", "median vacant min", "mean vacant min", "occupancy", "served (per seed)",
              "s per sim day"):  # fmt: skip
        overall.add_column(h)
    blocks = Table(
        title="median vacant minutes by 4-hour block: sim (mean over seeds) / real "
        "(min–max ratio over seeds) @ booking share; target within ±25 %"
    )
    for h in ("day", *(f"{4 * b:02d}–{4 * b + 4:02d}h" for b in range(6))):
        blocks.add_column(h)
    for day, runs in _runs_by_day(out).items():
        overall.add_row(*_overall_row(day, runs))
        blocks.add_row(*_block_row(day, runs, out["dispatch_share"][day]))
    console.print(overall)
    console.print(blocks)
    return _checks(out)


def week(con: duckdb.DuckDBPyConnection, settings: Settings, seeds: int, days: int,
         console: Console) -> list[Check]:  # fmt: skip
    table = Table(
        title=f"baseline policies from {WEEK_START}, {days} days, {seeds} seed(s): "
        "mean \\[min–max] over days × seeds"
    )
    for c in ("policy", *KPI_COLUMNS):
        table.add_column(c)
    rows: list[list[str]] = []
    checks: list[Check] = []
    for policy in POLICIES:
        out = simulate(con, settings, WEEK_START, days, policy, seeds=seeds).to_json()
        if policy == "historical":
            checks = calibration(out, console)
        rows = kpi_rows(out["summary"])
        table.add_row(*rows[0])
    table.add_row(*rows[-1])  # the real values
    console.print(table)
    return checks


def targets(checks: list[Check], console: Console) -> list[Check]:
    """Print the targets table; the missed ones."""
    table = Table(title="targets (historical policy vs real)")
    for h in ("target", "measured", "met"):
        table.add_column(h)
    for c in checks:
        table.add_row(c.target, c.measured, "yes" if c.met else "[red]no[/red]")
    console.print(table)
    return [c for c in checks if not c.met]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 days of the week")
    args = parser.parse_args()
    seeds = 1 if args.quick else 3
    settings = get_settings()
    if not settings.warehouse_path.exists():
        parser.error(f"no warehouse at {settings.warehouse_path}: run `make demo` first")
    con = connect(settings.warehouse_path, read_only=True,
                  memory_limit=settings.duckdb_memory_limit,
                  threads=settings.duckdb_threads)  # fmt: skip
    console = Console(width=200)
    checks = week(con, settings, seeds, 2 if args.quick else 7, console)
    missed = targets(checks, console)
    if missed:
        console.print(f"[red]{len(missed)} target(s) missed:[/red]")
        for c in missed:
            console.print(f"  {c.target}: {c.measured}")
        sys.exit(1)


if __name__ == "__main__":
    main()
