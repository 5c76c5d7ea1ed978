"""Simulator benchmark (needs `make demo` to have filled the warehouse).

    python benchmarks/sim.py [--quick]

Prints: seconds per simulated day of the full shared fleet (target ≤ 60 s), the calibration
table of the historical-behaviour policy against real data (3 days × 3 seeds), and the KPI
table of the three baseline policies over the last week (2008-05-26 .. 06-01) with the spread
over seeds.
"""

from __future__ import annotations

import argparse
from datetime import date
from statistics import mean

from rich.console import Console
from rich.table import Table

from taxinav.pipeline.batch import open_warehouse
from taxinav.pipeline.simulation import POLICIES, simulate
from taxinav.settings import get_settings
from taxinav.sim.report import KPI_COLUMNS, kpi_rows

CALIBRATION_DAYS = (date(2008, 5, 27), date(2008, 5, 29), date(2008, 5, 31))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 days of the week")
    args = parser.parse_args()
    seeds = 1 if args.quick else 3
    settings = get_settings()
    con = open_warehouse(settings)
    console = Console()

    calib = Table(
        title=f"calibration: historical policy vs real, {seeds} seed(s) per day "
        "(sim mean [min–max]; ratio sim/real)"
    )
    for h in (
        "day",
        "median vacant min",
        "mean vacant min",
        "occupancy",
        "served",
        "s per sim day",
    ):
        calib.add_column(h)
    for day in CALIBRATION_DAYS:
        out = simulate(con, settings, day, 1, "historical", seeds=seeds)
        sim, real = out["summary"]["historical"], out["summary"]["real"]
        cells = []
        for key in ("vacant_median_min", "vacant_mean_min", "occupancy"):
            s = sim[key]
            cells.append(
                f"{s['mean']:.2f} [{s['min']:.2f}–{s['max']:.2f}] vs {real[key]:.2f} "
                f"({s['mean'] / real[key]:.2f})"
            )
        served = sim["served_share"]
        cells.append(f"{served['mean']:.1%} [{served['min']:.1%}–{served['max']:.1%}]")
        secs = mean(r["seconds"] for r in out["runs"])
        calib.add_row(day.isoformat(), *cells, f"{secs:.1f}")
    console.print(calib)

    week = Table(
        title=f"baseline policies, 2008-05-26 .. 06-01, {seeds} seed(s): "
        "mean [min–max] over days × seeds"
    )
    for c in ("policy", *KPI_COLUMNS):
        week.add_column(c)
    days = 2 if args.quick else 7
    for policy in POLICIES:
        summary = simulate(con, settings, date(2008, 5, 26), days, policy, seeds=seeds)["summary"]
        rows = kpi_rows(summary)
        week.add_row(*rows[0])
        if policy == POLICIES[-1]:
            week.add_row(*rows[-1])
    console.print(week)


if __name__ == "__main__":
    main()
