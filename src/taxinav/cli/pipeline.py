"""``taxinav pipeline …``: the Dagster pipeline in-process, and its UI."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from taxinav.cli.common import console, date_option, fail
from taxinav.settings import Settings, get_settings

app = typer.Typer(help="The daily-partitioned Dagster pipeline.", no_args_is_help=True)


_STEP_ERROR = re.compile(
    r'dagster\._core\.errors\.\w+: Error occurred while executing op "[^"]*":+ *'
)


def _one_line(exc: RuntimeError) -> str:
    """A failed run's error without Dagster's wrapper and the stack it appends: both are in the
    run's log (``taxinav pipeline ui``, and on standard error)."""
    return _STEP_ERROR.sub("", str(exc).partition("Stack Trace:")[0]).strip()


def _landing_needed(settings: Settings, assets: Sequence[str]) -> None:
    """A day's telemetry is read from the landing store: say so before starting a run."""
    if "telemetry" in assets and not settings.landing_path.exists():
        fail(f"no landing store at {settings.landing_path}: load telemetry first "
             "(`taxinav pipeline run --sources --date …` or `taxinav demo`)")  # fmt: skip


def _print_runs(runs: Sequence[object]) -> None:
    from taxinav.pipeline.runner import DayRun

    table = Table(title="pipeline runs")
    for h in ("day", "assets", "seconds", "result"):
        table.add_column(h)
    for r in runs:
        assert isinstance(r, DayRun)
        verdict = "ok" if r.success else f"[red]blocked by {', '.join(r.failed_checks)}[/red]"
        table.add_row(r.day.isoformat(), ", ".join(r.assets), f"{r.seconds:.1f}", verdict)
    console.print(table)


@app.command("run")
def pipeline_run(
    day: Annotated[date, date_option("--date", help="Local date of the partition, YYYY-MM-DD.")],
    asset: Annotated[
        list[str] | None, typer.Option(help="Only these assets (e.g. a middle step); repeatable.")
    ] = None,
    sources: Annotated[bool, typer.Option(help="Refresh landing and roads first.")] = False,
) -> None:
    """Materialise one day's partition of every daily asset (no server needed)."""
    from taxinav.pipeline import runner

    settings = get_settings()
    instance = runner.instance_for(settings)
    if sources:
        try:
            runner.materialize(settings, runner.SOURCES, None, instance)
        except RuntimeError as exc:
            fail(_one_line(exc))
    chosen = asset or runner.partitioned_assets(settings)
    unknown = sorted(set(chosen) - set(runner.partitioned_assets(settings)))
    if unknown:
        fail(f"unknown daily asset(s) {unknown}; "
             f"choose from {runner.partitioned_assets(settings)}")  # fmt: skip
    if not sources:
        _landing_needed(settings, chosen)
    try:
        with console.status(f"materialising {day} …"):
            run = runner.materialize(settings, chosen, day, instance)
    except RuntimeError as exc:
        fail(_one_line(exc))
    _print_runs([run])
    for name, meta in run.metadata.items():
        console.print(f"  {name}: {meta}")
    if not run.success:
        raise typer.Exit(code=1)


@app.command("backfill")
def pipeline_backfill(
    start: Annotated[date, date_option(help="First day, local date YYYY-MM-DD.")],
    end: Annotated[date, date_option(help="Last day (included), local date YYYY-MM-DD.")],
    from_asset: Annotated[
        str | None, typer.Option(help="Start at this asset, keeping upstream as it is.")
    ] = None,
) -> None:
    """Materialise every day from --start to --end, both included: the telemetry of all days
    first (a day's trips read the next day's telemetry), then the other assets day by day. A
    day whose quality gate fails goes no further; the other days do. With --from-asset, the
    assets upstream of it are kept as they are, not recomputed."""
    from taxinav.console import progress_bar
    from taxinav.pipeline import runner

    settings = get_settings()
    names = runner.partitioned_assets(settings)
    if from_asset is not None and from_asset not in names:
        fail(f"unknown daily asset {from_asset!r}; choose from {names}")
    chosen = names[names.index(from_asset) :] if from_asset else names
    try:
        days = runner.days_between(start, end)
    except ValueError as exc:
        fail(str(exc))
    _landing_needed(settings, chosen)
    phases = int(any(a in runner.FIRST_PHASE for a in chosen))
    phases += int(any(a not in runner.FIRST_PHASE for a in chosen))
    with progress_bar(console) as bar:
        task = bar.add_task("partition runs", total=len(days) * phases)
        try:
            runs = runner.backfill(
                settings,
                days[0],
                days[-1],
                runner.instance_for(settings),
                chosen,
                on_run=lambda _: bar.advance(task),
            )
        except RuntimeError as exc:
            fail(_one_line(exc))
    _print_runs(runs)
    if not all(r.success for r in runs):
        raise typer.Exit(code=1)


@app.command("ui")
def pipeline_ui(port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 3000) -> None:
    """Start the Dagster UI (and its daemon, for schedules) on this pipeline."""
    import os
    import subprocess
    import sys

    from taxinav.pipeline.runner import instance_for

    settings = get_settings()
    instance_for(settings)  # writes dagster.yaml on first use
    level, fmt = settings.log_level, settings.log_format  # with --log-level applied
    # The code location and its runs log like this process (pipeline/definitions.py reads
    # these); Dagster's own services keep their formats, at the same level.
    env = {**os.environ, "DAGSTER_HOME": str(settings.dagster_home.resolve()),
           "TAXINAV_HOME": str(settings.home.resolve()), "TAXINAV_LOG_LEVEL": level,
           "TAXINAV_LOG_FORMAT": fmt}  # fmt: skip
    console.print(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C stops it)")
    cmd = [sys.executable, "-m", "dagster", "dev", "-m", "taxinav.pipeline.definitions",
           "-h", "127.0.0.1", "-p", str(port), "--log-level", level.lower(),
           "--log-format", "json" if fmt == "json" else "colored"]  # fmt: skip
    raise typer.Exit(subprocess.run(cmd, check=False, env=env).returncode)
