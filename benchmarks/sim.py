"""Simulator benchmark (needs `make demo` to have filled the warehouse).

    python benchmarks/sim.py [--quick]

Prints, for the last week of the shared data (2008-05-26 .. 06-01; --quick: 2 days, 1 seed):
the calibration tables of the historical-behaviour policy against real data for every day
(3 seeds each; overall and by 4-hour block, with seconds per simulated day of the full
fleet, target ≤ 60 s), then the KPI table of the three baseline policies with the spread.
"""

from __future__ import annotations

import argparse
from datetime import date
from statistics import mean
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table

from taxinav.pipeline.batch import open_warehouse
from taxinav.pipeline.simulation import POLICIES, simulate
from taxinav.settings import Settings, get_settings
from taxinav.sim.report import KPI_COLUMNS, kpi_rows

WEEK_START = date(2008, 5, 26)


def _runs_by_day(out: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    days: dict[str, list[dict[str, Any]]] = {}
    for r in out["runs"]:
        days.setdefault(r["day"], []).append(r)
    return days


def _cell(values: list[float], real: float, fmt: str = ".2f") -> str:
    m = mean(values)
    return f"{m:{fmt}} [{min(values):{fmt}}–{max(values):{fmt}}] vs {real:{fmt}} ({m / real:.2f})"


def _overall_row(day: str, runs: list[dict[str, Any]]) -> list[str]:
    real = runs[0]["real"]
    groups = [r["groups"][0] for r in runs]
    return [
        day,
        _cell([g["vacant_before_pickup"]["median_min"] for g in groups], real["vacant_median_min"]),
        _cell([g["vacant_before_pickup"]["mean_min"] for g in groups], real["vacant_mean_min"]),
        _cell([g["occupancy"] for g in groups], real["occupancy"], ".3f"),
        " ".join(f"{r['served'] / r['requests']:.1%}" for r in runs),
        f"{mean(r['seconds'] for r in runs):.1f}",
    ]


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


def calibration(out: dict[str, Any], console: Console) -> None:
    """Historical policy vs real, every simulated day, spread over seeds."""
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


def week(con: duckdb.DuckDBPyConnection, settings: Settings, seeds: int, days: int,
         console: Console) -> None:  # fmt: skip
    table = Table(
        title=f"baseline policies from {WEEK_START}, {days} days, {seeds} seed(s): "
        "mean \\[min–max] over days × seeds"
    )
    for c in ("policy", *KPI_COLUMNS):
        table.add_column(c)
    rows: list[list[str]] = []
    for policy in POLICIES:
        out = simulate(con, settings, WEEK_START, days, policy, seeds=seeds)
        if policy == "historical":
            calibration(out, console)
        rows = kpi_rows(out["summary"])
        table.add_row(*rows[0])
    table.add_row(*rows[-1])  # the real values
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 days of the week")
    args = parser.parse_args()
    seeds = 1 if args.quick else 3
    settings = get_settings()
    con = open_warehouse(settings)
    console = Console(width=200)
    week(con, settings, seeds, 2 if args.quick else 7, console)


if __name__ == "__main__":
    main()
