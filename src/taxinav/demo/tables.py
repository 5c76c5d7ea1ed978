"""Result tables the demo and the CLI print: backtests, simulated KPIs, the ingest report's
sections and the served forecasts' realised accuracy."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from taxinav.demo import report
from taxinav.forecast import report as fc_report
from taxinav.sim.report import KPI_COLUMNS, kpi_rows


def print_sim_table(console: Console, summary: dict[str, Any]) -> None:
    table = Table(title=f"simulated {summary['day']} (1 seed; demand = real matched pickups)")
    for c in ("policy", *KPI_COLUMNS):
        table.add_column(c)
    for row in kpi_rows({k: v for k, v in summary.items() if k != "day"}):
        table.add_row(*row)
    console.print(table)


def print_backtest(console: Console, result: dict[str, Any]) -> None:
    table = Table(
        title=f"backtest — {result['unit_type']} units, test from "
        f"{result['test_start']} for {result['test_days']} days"
    )
    for h in ("model", *fc_report.COLUMNS):
        table.add_column(h)
    for row in fc_report.table_rows(result):
        table.add_row(*row)
    console.print(table)
    console.print(f"[bold]{fc_report.headline(result)}[/bold]")
    m = result.get("mlflow")
    if m:
        verdict = "promoted to champion" if m["promoted"] else f"kept as challenger ({m['reason']})"
        console.print(f"MLflow run {m['run_id']}: taxinav-{result['unit_type']} v{m['version']} "
                      f"{verdict}; champion v{m['champion']}")  # fmt: skip
        if m.get("gate_window"):
            champion = m.get("champion_rmse")
            console.print(
                f"gate window {m['gate_window']}: challenger RMSE {m['challenger_rmse']:.3f}, "
                f"champion {'—' if champion is None else f'{champion:.3f}'}, "
                f"base {m['base_rmse']:.3f} (the test window above is scored after the decision)"
            )


def print_sections(console: Console, sections: list[report.Section]) -> None:
    for s in sections:
        table = Table(title=s.title, title_justify="left")
        for h in s.header:
            table.add_column(h)
        for row in s.rows:
            table.add_row(*(report._fmt(v) for v in row))
        console.print(table)


def print_served(console: Console, summary: dict[str, Any]) -> None:
    table = Table(
        title=f"served forecasts, realised accuracy {summary['start']} … "
        f"{summary['end']} (pickups over the horizon per unit; champion vs base model)"
    )
    for h in ("unit", "day", "champion", "champion RMSE", "base RMSE", "champion vs base"):
        table.add_column(h)
    for r in summary["days"]:
        c, b = r.get("champion_rmse"), r.get("base_rmse")
        gain = f"{(c / b - 1) * 100:+.1f} %" if c is not None and b else "—"
        table.add_row(
            r["unit_type"],
            r["day"],
            f"v{r.get('champion_version', '—')}",
            f"{c:.3f}" if c is not None else "—",
            f"{b:.3f}" if b else "—",
            gain,
        )
    console.print(table)
