"""The batch job behind ``make demo``: ingest → trips/spells → roads → map matching → report.

Each step records a fingerprint of its inputs; a second run skips unchanged steps.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console

from taxinav import ingest, roads
from taxinav.console import progress_bar
from taxinav.demo import plots, report, stages, steps, tables
from taxinav.demo.stages import Orchestrator
from taxinav.features import data_period
from taxinav.guidance import experiment as simulation
from taxinav.mlops import training
from taxinav.mlops.job import TrainingJobError, launch_training
from taxinav.mlops.tuning import params_path
from taxinav.serve.memory import give_back
from taxinav.settings import Settings
from taxinav.warehouse import open_warehouse, publish_reader

# Bump a step's version when its logic changes so finished runs of the old logic are redone.
BAR_STEPS = frozenset({"landing", "pipeline", "spells", "reforecast"})  # own progress bars
STEP_VERSIONS = {
    "landing": 1, "roads": 2, "pipeline": 1, "spells": 2, "forecast": 5, "reforecast": 1,
    "simulate": 3,
}  # fmt: skip


def ingest_with_progress(
    con: duckdb.DuckDBPyConnection, settings: Settings, directory: Path, console: Console,
    kind: ingest.SourceKind = "cabspotting",
) -> ingest.IngestReport:  # fmt: skip
    """Every telemetry file of ``directory`` (layout ``kind``) into the landing store, with a
    progress bar."""
    s = settings.ingest
    with progress_bar(console) as bar:
        task = bar.add_task("ingest files", total=None)
        return ingest.ingest_directory(
            con, kind, directory, ingest.Rules.default(s.min_valid_year, s.max_future_days),
            workers=s.workers, max_speed_kmh=s.max_speed_kmh, jump_rounds=s.jump_check_rounds,
            on_start=lambda n: bar.update(task, total=n), on_file=lambda _: bar.advance(task),
        )  # fmt: skip


class _Warehouse:
    """The batch's warehouse connection, which a step may release while a job of its own
    process writes the warehouse (DuckDB admits one writing process)."""

    def __init__(self, settings: Settings, con: duckdb.DuckDBPyConnection | None = None) -> None:
        self.settings = settings
        self.con = con if con is not None else open_warehouse(settings)

    def released(self, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        self.con.close()
        give_back()  # the job's peak counts with what this process keeps meanwhile
        try:
            return work()
        finally:
            self.con = open_warehouse(self.settings)


def _run_step(
    wh: _Warehouse,
    console: Console,
    name: str,
    fp: str,
    work: Callable[[], dict[str, Any]],
    output: Path | None = None,
) -> dict[str, Any]:
    """Run ``work`` unless a run with the same fingerprint finished and its ``output`` (a
    store outside the warehouse, if any) is still there."""
    done = steps.finished(wh.con, name, fp)
    if done is not None and (output is None or output.exists()):
        console.print(f"[dim]✓ {name}: unchanged since last run, reused[/dim]")
        return done
    console.rule(f"[bold]{name}")
    if name in BAR_STEPS:
        summary = work()
    else:
        with console.status(f"{name} …"):
            summary = work()
    steps.record(wh.con, name, fp, summary)
    # Nested results (a backtest's per-hour metrics) are printed as tables by the caller.
    brief = {k: v for k, v in summary.items() if len(str(v)) < 200}
    console.print(f"✓ {name}: {brief}")
    return summary


def run_batch(settings: Settings, console: Console, pipeline: Orchestrator) -> Path:
    """Run every step (reusing finished ones) and write ``reports/ingest.md``.

    Sources and the daily partitions run through the Dagster pipeline (recorded in the
    instance under ``<home>/dagster``); whole-period steps (map-matching vacant spells, model
    training, simulation) follow, then the test days are re-forecast with the champion.
    """
    wh = _Warehouse(settings)
    versions = pipeline.code_versions
    files = ingest.list_source_files(settings.ingest.source, settings.telemetry_dir)
    osm = settings.osm_path
    v = STEP_VERSIONS
    fp_landing = steps.fingerprint(v["landing"], settings.ingest.model_dump(), files=files)
    fp_roads = steps.fingerprint(v["roads"], settings.roads.h3_resolution, files=[osm])
    fp_daily = steps.fingerprint(
        v["pipeline"], fp_landing, fp_roads, versions, settings.pipeline.model_dump(),
        settings.forecast.model_dump(), settings.roads.model_dump(), settings.seed,
    )  # fmt: skip
    # Spells depend on the trips only, not on demand counts or forecasts downstream.
    fp_spells = steps.fingerprint(
        v["spells"], fp_landing, fp_roads, settings.ingest.gap_limit_min,
        settings.pipeline.context_hours, versions["telemetry"], versions["trips"],
        dataclasses.asdict(_meili_options(settings)),
    )  # fmt: skip
    _run_step(wh, console, "landing", fp_landing,
              lambda: pipeline.source("landing"),
              output=settings.landing_path)  # fmt: skip
    _run_step(wh, console, "roads", fp_roads,
              lambda: pipeline.source("road_network"))  # fmt: skip
    days = _run_step(wh, console, "pipeline", fp_daily,
                     lambda: stages.backfill(settings, pipeline, console))  # fmt: skip
    graph = roads.read_graph(wh.con)
    _run_step(
        wh, console, "spells", fp_spells,
        lambda: match_spells(wh.con, settings, graph, osm, console),
    )  # fmt: skip
    tuned = [p.read_text() if p.exists() else "" for p in (
        params_path(settings.home, u) for u in settings.forecast.demo_units)]  # fmt: skip
    fp_forecast = steps.fingerprint(
        v["forecast"], fp_daily, fp_spells, settings.forecast.model_dump(), settings.seed, tuned
    )
    for unit in settings.forecast.demo_units:
        work = functools.partial(wh.released, functools.partial(_forecast, settings, unit))
        tables.print_backtest(
            console, _run_step(wh, console, f"forecast_{unit}", fp_forecast, work)
        )
    fp_reforecast = steps.fingerprint(v["reforecast"], fp_forecast, settings.mlops.model_dump())
    served = _run_step(
        wh, console, "reforecast", fp_reforecast,
        lambda: stages.reforecast(wh.con, settings, pipeline, console, days),
    )  # fmt: skip
    tables.print_served(console, served)
    fp_sim = steps.fingerprint(
        v["simulate"], fp_daily, fp_spells, settings.sim.model_dump(), settings.seed
    )
    sim_summary = _run_step(
        wh, console, "simulate", fp_sim, lambda: _simulate_baselines(wh.con, settings)
    )
    tables.print_sim_table(console, sim_summary)
    con = wh.con
    sections = [*report.collect(con, settings.tz), report.blocked_days(days, served)]
    figures = [
        plots.pickups_map(con, graph, settings.reports_dir / "pickups_map.png"),
        plots.spell_durations(con, settings.reports_dir / "vacant_spells.png"),
    ]
    path = report.write_report(sections, settings.reports_dir / "ingest.md", figures)
    tables.print_sections(console, sections)
    con.close()
    with console.status("publishing the warehouse's read replica …"):
        publish_reader(settings)
    console.print(f"report written to [bold]{path}[/bold]")
    return path


@dataclasses.dataclass(frozen=True)
class _MeiliOptions:
    workers: int
    search_radius_m: float
    gps_accuracy_m: float
    max_points: int


def _meili_options(settings: Settings) -> _MeiliOptions:
    r = settings.roads
    return _MeiliOptions(
        r.meili_workers, r.meili_search_radius_m, r.meili_gps_accuracy_m, r.meili_max_trace_points
    )


def match_spells(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    graph: roads.RoadGraph,
    osm: Path,
    console: Console,
) -> dict[str, Any]:
    config = roads.build_tiles(osm, settings.valhalla_dir)
    opts = _meili_options(settings)
    with progress_bar(console) as bar:
        task = bar.add_task("map-match vacant spells (GPS points)", total=None)
        return roads.match_spells(
            con,
            graph,
            config,
            workers=opts.workers,
            search_radius_m=opts.search_radius_m,
            gps_accuracy_m=opts.gps_accuracy_m,
            max_points=opts.max_points,
            on_start=lambda n: bar.update(task, total=n),
            on_done=lambda n: bar.advance(task, n),
        )


def _forecast(settings: Settings, unit: str) -> dict[str, Any]:
    """The unit's training job, in its own process (``mlops.job``)."""
    days = settings.forecast.demo_test_days
    try:
        return launch_training(settings, unit, days)
    except TrainingJobError as exc:
        if "not enough history" not in str(exc):
            raise
        raise ValueError(f"{exc}: the demo holds out the last {days} days for its test "
                         f"(TAXINAV_FORECAST__DEMO_TEST_DAYS); the data needs more days before "
                         f"them") from exc  # fmt: skip


def _simulate_baselines(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[str, Any]:
    """One simulated day, the first of the forecast test week, for each baseline policy."""
    origin, n_slots = data_period(con, settings.tz, settings.forecast.slot_minutes)
    day = training.last_full_days(
        origin, n_slots, settings.forecast.slot_minutes, settings.tz,
        settings.forecast.demo_test_days,
    )  # fmt: skip
    summary: dict[str, Any] = {"day": day.isoformat()}
    for policy in simulation.POLICIES:
        out = simulation.simulate(con, settings, day, 1, policy).summary.to_json()
        summary[policy] = out[policy]
        summary["real"] = out["real"]
    return summary
