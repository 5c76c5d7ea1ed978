"""Simulator benchmark (needs `make demo` to have filled the warehouse).

    python benchmarks/sim.py [--quick] [--calibration-only]

Prints: seconds per simulated day of the full shared fleet (target ≤ 60 s), the calibration
tables of the historical-behaviour policy against real data (3 days × 3 seeds, overall and by
4-hour block), and the KPI table of the three baseline policies over the last week
(2008-05-26 .. 06-01) with the spread over seeds.
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

CALIBRATION_DAYS = (date(2008, 5, 27), date(2008, 5, 29), date(2008, 5, 31))


def _overall_row(day: date, out: dict[str, Any]) -> list[str]:
    sim, real = out["summary"]["historical"], out["summary"]["real"]
    cells = [day.isoformat()]
    for key in ("vacant_median_min", "vacant_mean_min", "occupancy"):
        s = sim[key]
        cells.append(
            f"{s['mean']:.2f} [{s['min']:.2f}–{s['max']:.2f}] vs {real[key]:.2f} "
            f"({s['mean'] / real[key]:.2f})"
        )
    served = sim["served_share"]
    cells.append(f"{served['mean']:.1%} [{served['min']:.1%}–{served['max']:.1%}]")
    cells.append(f"{mean(r['seconds'] for r in out['runs']):.1f}")
    return cells


def _block_row(day: date, out: dict[str, Any]) -> list[str]:
    real = out["runs"][0]["real"]["vacant_median_by_block"]
    cells = [day.isoformat()]
    for b in range(6):
        sims = [r["groups"][0]["vacant_median_by_block"].get(b) for r in out["runs"]]
        sims = [x for x in sims if x is not None]
        if not sims or b not in real:
            cells.append("–")
            continue
        cells.append(f"{mean(sims):.1f}/{real[b]:.1f} ({mean(sims) / real[b]:.2f})")
    return cells


def calibration(con: duckdb.DuckDBPyConnection, settings: Settings, seeds: int,
                console: Console) -> None:  # fmt: skip
    overall = Table(
        title=f"calibration: historical policy vs real, {seeds} seed(s) per day "
        "(sim mean [min–max] vs real (ratio))"
    )
    for h in (
        "day",
        "median vacant min",
        "mean vacant min",
        "occupancy",
        "served",
        "s per sim day",
    ):
        overall.add_column(h)
    blocks = Table(
        title="median vacant minutes by 4-hour block: sim (mean over seeds) / real "
        "(ratio); target within ±25 %"
    )
    for h in ("day", *(f"{4 * b:02d}–{4 * b + 4:02d}h" for b in range(6))):
        blocks.add_column(h)
    for day in CALIBRATION_DAYS:
        out = simulate(con, settings, day, 1, "historical", seeds=seeds)
        overall.add_row(*_overall_row(day, out))
        blocks.add_row(*_block_row(day, out))
    console.print(overall)
    console.print(blocks)


def week(con: duckdb.DuckDBPyConnection, settings: Settings, seeds: int, days: int,
         console: Console) -> None:  # fmt: skip
    table = Table(
        title=f"baseline policies from 2008-05-26, {days} days, {seeds} seed(s): "
        "mean [min–max] over days × seeds"
    )
    for c in ("policy", *KPI_COLUMNS):
        table.add_column(c)
    rows: list[list[str]] = []
    for policy in POLICIES:
        rows = kpi_rows(
            simulate(con, settings, date(2008, 5, 26), days, policy, seeds=seeds)["summary"]
        )
        table.add_row(*rows[0])
    table.add_row(*rows[-1])  # the real values
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 days of the week")
    parser.add_argument("--calibration-only", action="store_true", help="skip the week table")
    args = parser.parse_args()
    seeds = 1 if args.quick else 3
    settings = get_settings()
    con = open_warehouse(settings)
    console = Console()
    calibration(con, settings, seeds, console)
    if not args.calibration_only:
        week(con, settings, seeds, 2 if args.quick else 7, console)


if __name__ == "__main__":
    main()
