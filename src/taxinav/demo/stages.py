"""The demo's pipeline stages: the sources, the backfill of every landed day, and
re-forecasting the test days with the newly registered champion — driven through an
:class:`Orchestrator` (the Dagster pipeline, handed in by the CLI)."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from datetime import date, timedelta
from typing import Any, Protocol

import duckdb
from rich.console import Console

from taxinav.calendar import local_midnight
from taxinav.console import progress_bar
from taxinav.features import data_period
from taxinav.ingest import landed_days
from taxinav.mlops.training import last_full_days
from taxinav.settings import Settings


class DayOutcome(Protocol):
    day: date
    assets: list[str]
    seconds: float
    failed_checks: list[str]


class Orchestrator(Protocol):
    """Runs the pipeline's assets: sources, and daily partitions in dependency order."""

    code_versions: dict[str, str]
    first_phase: tuple[str, ...]

    def source(self, asset: str) -> dict[str, Any]: ...

    def backfill(
        self, start: date, end: date, assets: Sequence[str] | None = None,
        on_run: Callable[[Any], None] | None = None, skip: Collection[date] = (),
    ) -> Sequence[DayOutcome]: ...  # fmt: skip


def data_days(settings: Settings) -> tuple[date, date]:
    """First and last local day of the landed telemetry."""
    return landed_days(settings.landing_path, settings.tz, settings.pipeline.first_day)


def _run_table(console: Console, runs: Sequence[DayOutcome]) -> None:
    blocked = [r for r in runs if r.failed_checks]
    for r in blocked:
        console.print(f"[red]{r.day}: blocked by failed checks {r.failed_checks}[/red]")


def backfill(settings: Settings, pipeline: Orchestrator, console: Console) -> dict[str, Any]:
    """Every day of the landed data through every daily asset."""
    first, last = data_days(settings)
    days = (last - first).days + 1
    with progress_bar(console) as bar:
        task = bar.add_task("daily partitions (telemetry, then the rest)", total=2 * days)
        runs = pipeline.backfill(first, last, on_run=lambda _: bar.advance(task))
    _run_table(console, runs)
    seconds = [r.seconds for r in runs]
    rest = [r.seconds for r in runs if r.assets != list(pipeline.first_phase)]
    return {
        "first_day": first.isoformat(),
        "last_day": last.isoformat(),
        "days": days,
        "runs": len(runs),
        "seconds": round(sum(seconds), 1),
        "seconds_per_day_after_telemetry": round(sum(rest) / max(len(rest), 1), 1),
        "blocked_days": [r.day.isoformat() for r in runs if r.failed_checks],
        "blocked_checks": {r.day.isoformat(): r.failed_checks for r in runs if r.failed_checks},
    }


def test_start(con: duckdb.DuckDBPyConnection, settings: Settings) -> date:
    """First day of the forecast test period (as the backtests choose it)."""
    f = settings.forecast
    origin, n_slots = data_period(con, settings.tz, f.slot_minutes)
    return last_full_days(origin, n_slots, f.slot_minutes, settings.tz, f.demo_test_days)


def reforecast(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    pipeline: Orchestrator,
    console: Console,
    days: dict[str, Any],
) -> dict[str, Any]:
    """Re-run only the forecasts and accuracy of the test days (upstream untouched), now with
    the champion; the realised accuracy of champion and base model per day. Days the daily
    pipeline blocked (failed quality checks) have no features: they are skipped, and said."""
    start = test_start(con, settings)
    end = date.fromisoformat(days["last_day"])
    blocked = sorted(date.fromisoformat(d) for d in days.get("blocked_days", []))
    skipped = [d for d in blocked if start <= d <= end]
    for d in skipped:
        console.print(f"[yellow]re-forecast: {d} skipped (blocked by failed checks in the "
                      "daily pipeline)[/yellow]")  # fmt: skip
    assets = [
        f"{kind}_{u}"
        for u in settings.pipeline.forecast_units
        for kind in ("forecasts", "accuracy")
    ]
    n = (end - start).days + 1 - len(skipped)
    with progress_bar(console) as bar:
        task = bar.add_task("re-forecast the test days with the champion", total=n)
        runs = pipeline.backfill(start, end, assets, on_run=lambda _: bar.advance(task),
                                 skip=blocked)  # fmt: skip
    _run_table(console, runs)
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "skipped_days": [d.isoformat() for d in skipped],
        "seconds": round(sum(r.seconds for r in runs), 1),
        "days": served_accuracy(con, settings, start, end),
    }


def served_accuracy(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date
) -> list[dict[str, Any]]:
    """Per unit type and local day: realised RMSE of the champion and the base model, the
    champion's version and whether it had trained on the day (``champion_in_sample``: true
    when any hour was in-sample, None when not recorded)."""
    rows = con.execute(
        """SELECT unit_type, timezone($tz, hour_start)::DATE AS day, model,
                  coalesce(arg_max(model_version, TRY_CAST(model_version AS BIGINT)),
                           max(model_version)), sum(rmse * rmse * n) / sum(n), sum(n),
                  CASE WHEN bool_or(in_sample) THEN true
                       WHEN count(in_sample) < count(*) THEN NULL ELSE false END
           FROM forecast_accuracy WHERE hour_start >= $s AND hour_start < $e
           GROUP BY ALL ORDER BY ALL""",
        {
            "tz": settings.timezone,
            "s": local_midnight(start, settings.tz),
            "e": local_midnight(end + timedelta(days=1), settings.tz),
        },
    ).fetchall()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for unit, day, model, version, mse, n, in_sample in rows:
        rec = out.setdefault((unit, day.isoformat()), {"unit_type": unit, "day": day.isoformat()})
        rec[f"{model}_rmse"] = math.sqrt(float(mse))
        rec["n"] = int(n)
        if model == "champion":
            rec["champion_version"] = version
            rec["champion_in_sample"] = in_sample
    return list(out.values())
