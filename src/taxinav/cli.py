"""The ``taxinav`` command line: thin wrappers around the domains' functions."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from taxinav.cli_evaluate import evaluate
from taxinav.cli_pipeline import pipeline_app
from taxinav.cli_serve import serve, token
from taxinav.settings import get_settings

app = typer.Typer(
    help="taxinav: fleet telemetry → demand forecasts → cruising guidance.", no_args_is_help=True
)
ingest_app = typer.Typer(help="Load vehicle telemetry into the warehouse.", no_args_is_help=True)
roads_app = typer.Typer(help="Road network and map matching.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
forecast_app = typer.Typer(help="Demand forecasting and backtests.", no_args_is_help=True)
app.add_typer(roads_app, name="roads")
app.add_typer(forecast_app, name="forecast")
model_app = typer.Typer(help="The model registry: champion and challenger per unit type.")
app.add_typer(model_app, name="model")
tracking_app = typer.Typer(help="Experiment tracking (MLflow).")
app.add_typer(tracking_app, name="tracking")

app.add_typer(pipeline_app, name="pipeline")
app.command("serve")(serve)
app.command("token")(token)
app.command("evaluate")(evaluate)

console = Console(soft_wrap=True)  # never break a file:line message across lines


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=1)


def _ingest_summary(report: object) -> None:
    from taxinav.ingest import IngestReport

    assert isinstance(report, IngestReport)
    c = report.counts
    console.print(
        f"files {report.files} ({report.empty_files} empty), rows read {c.rows_read:,}, "
        f"loaded {c.loaded:,}, "
        f"already loaded {c.already_loaded:,}, duplicates {c.duplicates:,}, "
        f"in {report.seconds:.1f} s"
    )
    for reason, n in sorted(report.quarantined.items(), key=lambda kv: -kv[1]):
        console.print(f"  quarantined {reason}: {n:,}")
    for err in report.errors:
        console.print(f"[red]rejected file[/red] {err}")
    if report.errors:
        raise typer.Exit(code=1)


@ingest_app.command("cabspotting")
def ingest_cabspotting(
    directory: Annotated[Path, typer.Argument(help="Folder of new_<cab>.txt[.gz] files.")],
) -> None:
    """Load a folder in the original cabspotting layout."""
    from taxinav.demo.batch import ingest_with_progress as run
    from taxinav.warehouse import open_warehouse

    settings = get_settings()
    if not directory.is_dir():
        _fail(f"{directory} is not a directory")
    con = open_warehouse(settings)
    _ingest_summary(run(con, settings, directory, console))


@ingest_app.command("telemetry")
def ingest_telemetry(
    files: Annotated[list[Path], typer.Argument(help="CSV (header) or Parquet files.")],
) -> None:
    """Load files of the generic schema: vehicle_id, ts, lat, lon, occupied."""
    from taxinav import ingest
    from taxinav.warehouse import open_warehouse

    settings = get_settings()
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        _fail(f"no such file(s): {', '.join(missing)}")
    rules = ingest.Rules.default(settings.ingest.min_valid_year, settings.ingest.max_future_days)
    con = open_warehouse(settings)
    report = ingest.ingest_files(
        con,
        files,
        "generic",
        rules,
        workers=settings.ingest.workers,
        max_speed_kmh=settings.ingest.max_speed_kmh,
        jump_rounds=settings.ingest.jump_check_rounds,
    )
    _ingest_summary(report)


@ingest_app.command("derive")
def ingest_derive() -> None:
    """Rebuild trips and vacant spells from the loaded telemetry."""
    from taxinav import ingest
    from taxinav.warehouse import open_warehouse

    settings = get_settings()
    con = open_warehouse(settings)
    counts = ingest.derive_trips_and_spells(con, settings.ingest.gap_limit_min)
    console.print(counts)


@roads_app.command("load")
def roads_load(
    osm_file: Annotated[Path | None, typer.Argument(help="OSM XML or PBF file.")] = None,
) -> None:
    """Build the directed segment graph from an OSM file and store it."""
    from taxinav.roads import load_roads
    from taxinav.warehouse import open_warehouse

    settings = get_settings()
    path = osm_file or settings.osm_path
    if not path.is_file():
        _fail(f"{path} does not exist")
    con = open_warehouse(settings)
    graph = load_roads(con, path, settings.roads.h3_resolution)
    console.print(
        f"{graph.n_segments:,} directed segments, {graph.n_nodes:,} nodes, "
        f"{int(graph.succ_indices.shape[0]):,} legal moves"
    )


@roads_app.command("match")
def roads_match() -> None:
    """Snap pickups/drop-offs and map-match vacant spells to the stored graph."""
    from taxinav import roads
    from taxinav.demo.batch import match_spells
    from taxinav.warehouse import open_warehouse

    settings = get_settings()
    con = open_warehouse(settings)
    try:
        graph = roads.read_graph(con)
    except LookupError as exc:
        _fail(str(exc))
    console.print(
        roads.snap_trip_ends(
            con,
            graph,
            radius_m=settings.roads.match_radius_m,
            heading_weight_m=settings.roads.heading_weight_m,
        )
    )
    console.print(match_spells(con, settings, graph, settings.osm_path, console))


@forecast_app.command("tune")
def forecast_tune(
    unit: Annotated[str, typer.Option(help="road or h3")] = "h3",
    trials: Annotated[int, typer.Option(min=1)] = 20,
    test_start: Annotated[
        str | None, typer.Option(help="First test day (default: last days)")
    ] = None,
    test_days: Annotated[int, typer.Option(min=1)] = 7,
) -> None:
    """Optuna search of LightGBM parameters on the validation days; the best are used next."""
    from datetime import date

    from taxinav.mlops.training import tune
    from taxinav.warehouse import open_warehouse

    if unit not in ("road", "h3"):
        _fail(f"--unit must be road or h3, not {unit!r}")
    try:
        start = date.fromisoformat(test_start) if test_start else None
    except ValueError:
        _fail(f"--test-start {test_start!r} is not a date (YYYY-MM-DD)")
        return
    settings = get_settings()
    con = open_warehouse(settings)
    with console.status(f"tuning {unit} with {trials} trials …"):
        out = tune(con, settings, unit, trials, start, test_days)
    console.print(f"best validation RMSE {out['best_valid_rmse']:.4f} over {trials} trials "
                  f"(MLflow run {out['run_id']}); saved to {out['saved']}")  # fmt: skip


@forecast_app.command("backtest")
def forecast_backtest(
    unit: Annotated[str, typer.Option(help="road or h3")] = "h3",
    test_start: Annotated[
        str | None, typer.Option(help="First test day, local date YYYY-MM-DD (default: last days)")
    ] = None,
    test_days: Annotated[int, typer.Option(min=1)] = 7,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the metrics here.")] = None,
    counts: Annotated[
        Path | None, typer.Option(help="Counts table: unit_id, slot_start, count [, lat, lon]")
    ] = None,
) -> None:
    """Train on everything before the test period and score every model on it."""
    from datetime import date

    from taxinav.demo.batch import print_backtest
    from taxinav.mlops.training import backtest
    from taxinav.warehouse import open_warehouse

    settings = get_settings()
    if unit not in ("road", "h3") and counts is None:
        _fail(f"--unit must be road or h3, not {unit!r}")
    if counts is not None and not counts.is_file():
        _fail(f"{counts} does not exist")
    try:
        start = date.fromisoformat(test_start) if test_start else None
    except ValueError:
        _fail(f"--test-start {test_start!r} is not a date (YYYY-MM-DD)")
        return
    con = open_warehouse(settings)
    try:
        result = backtest(con, settings, unit, start, test_days, counts=counts, json_out=json_out)
    except (LookupError, ValueError) as exc:
        _fail(str(exc))
        return
    print_backtest(console, result)


@app.command("simulate")
def simulate(
    start: Annotated[str, typer.Option(help="First simulated day, local date YYYY-MM-DD")],
    days: Annotated[int, typer.Option(min=1)] = 1,
    policy: Annotated[
        str,
        typer.Option(
            help="random, historical, hotspot, heatmap, guided or guided-independent; guided "
            "may name its demand and competitor model: guided:stored, guided:oracle, "
            "guided:historical, guided:closed-loop:uniform"
        ),
    ] = "historical",
    share: Annotated[float, typer.Option(min=0, max=1, help="Share of taxis on --policy")] = 1.0,
    other: Annotated[str | None, typer.Option(help="Policy of the other taxis")] = None,
    seeds: Annotated[int, typer.Option(min=1)] = 1,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write KPIs here.")] = None,
) -> None:
    """Replay real demand and fleet presence with a cruising policy; report KPIs per group."""
    from datetime import date

    from taxinav.guidance import experiment as simulation
    from taxinav.warehouse import open_warehouse

    for name in (policy, other):
        try:
            if name is not None:
                simulation.PolicySpec.parse(name)
        except ValueError as exc:
            _fail(str(exc))
    try:
        first = date.fromisoformat(start)
    except ValueError:
        _fail(f"--start {start!r} is not a date (YYYY-MM-DD)")
        return
    settings = get_settings()
    con = open_warehouse(settings)
    with console.status(f"simulating {days} day(s) × {seeds} seed(s) …"):
        try:
            out = simulation.simulate(con, settings, first, days, policy, share=share,
                                      other=other, seeds=seeds, json_out=json_out)  # fmt: skip
        except (LookupError, ValueError) as exc:  # e.g. a model trained on the simulated days
            _fail(str(exc))
            return
    print_sim(out)


def print_sim(out: dict[str, Any]) -> None:
    from rich.table import Table

    from taxinav.sim.report import KPI_COLUMNS, kpi_rows

    table = Table(
        title=f"simulation from {out['start']}, {out['days']} day(s), "
        f"{out['seeds']} seed(s): mean [min–max]"
    )
    for c in ("group", *KPI_COLUMNS):
        table.add_column(c)
    for row in kpi_rows(out["summary"]):
        table.add_row(*row)
    console.print(table)
    for group, label in (out["runs"][0].get("demand") or {}).items() if out["runs"] else ():
        console.print(f"group {group} routed on: {label}")


@app.command("recommend")
def recommend(
    at: Annotated[str, typer.Option(help="Moment, YYYY-MM-DDTHH:MM (city time if no offset)")],
    geojson_out: Annotated[Path, typer.Option("--geojson", help="Write routes here.")],
    vehicle: Annotated[str | None, typer.Option(help="Only this vehicle's route")] = None,
) -> None:
    """Coordinated cruising routes for every vacant taxi at a moment, as GeoJSON."""
    import json
    from datetime import datetime

    from taxinav.guidance.recommend import geojson, recommend_at, route_map
    from taxinav.roads import read_graph
    from taxinav.warehouse import open_warehouse

    settings = get_settings()
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        _fail(f"--at {at!r} is not a date-time (YYYY-MM-DDTHH:MM)")
        return
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.tz)
    con = open_warehouse(settings)
    with console.status("planning routes for the vacant fleet …"):
        try:
            rec = recommend_at(con, settings, moment)
        except LookupError as exc:
            _fail(str(exc))
            return
    if vehicle is not None:
        if vehicle not in rec.routes:
            _fail(f"vehicle {vehicle!r} is not vacant (or not on the network) at {moment}")
        rec = dataclasses.replace(rec, routes={vehicle: rec.routes[vehicle]})
    graph = read_graph(con)
    out = geojson(rec, graph)
    geojson_out.parent.mkdir(parents=True, exist_ok=True)
    geojson_out.write_text(json.dumps(out))
    picture = route_map(rec, graph, geojson_out.with_suffix(".png"))
    p = out["properties"]
    console.print(
        f"{len(rec.routes)} route(s) for {rec.vacant} vacant taxi(s) on the network "
        f"({rec.unplaced} more vacant off it) in {rec.seconds:.2f} s; demand: "
        f"{rec.demand_source}; mean chance of a passenger within "
        f"{settings.routing.horizon_min:g} min: {p['mean_p_found']:.0%}; "
        f"rejected routes: {rec.rejected or 'none'} → {geojson_out}, {picture}"
    )


def _registry() -> Any:
    from taxinav.mlops.registry import Registry

    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    return Registry.from_settings(settings)


UnitOption = Annotated[str, typer.Option(help="road or h3")]


@model_app.command("list")
def model_list(unit: UnitOption = "road") -> None:
    """Registered versions with their aliases and gate decisions."""
    try:
        rows = _registry().versions(unit)
    except LookupError as exc:
        _fail(str(exc))
        return
    for r in rows:
        console.print(f"v{r['version']}  {','.join(r['aliases']) or '-':<20} "
                      f"{r['decision'] or '-':<9} run {r['run_id']}")  # fmt: skip


@model_app.command("promote")
def model_promote(version: str, unit: UnitOption = "road") -> None:
    """Make VERSION the champion (recorded)."""
    try:
        _registry().promote(unit, version)
    except LookupError as exc:
        _fail(str(exc))
        return
    console.print(f"taxinav-{unit} champion → v{version}")


@model_app.command("rollback")
def model_rollback(unit: UnitOption = "road") -> None:
    """Champion back to the previous champion (recorded)."""
    try:
        version = _registry().rollback(unit)
    except LookupError as exc:
        _fail(str(exc))
        return
    console.print(f"taxinav-{unit} champion rolled back to v{version}")


@tracking_app.command("ui")
def tracking_ui(port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 5000) -> None:
    """Start the MLflow UI on the local store, to compare runs side by side."""
    import subprocess
    import sys

    from taxinav.mlops.registry import tracking_uri

    settings = get_settings()
    uri = tracking_uri(settings.home, settings.mlops.tracking_uri)
    console.print(f"MLflow UI on http://127.0.0.1:{port} for {uri} (Ctrl-C stops it)")
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
           "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    raise typer.Exit(subprocess.run(cmd, check=False).returncode)


@app.command("demo")
def demo(
    then_serve: Annotated[
        bool,
        typer.Option("--serve/--no-serve", help="Then replay the last day through the service."),
    ] = True,
) -> None:
    """Run the batch job on the configured data, reusing finished steps, and write the report;
    then start the service replaying the last day of the data (Ctrl-C stops it)."""
    from taxinav.cli_serve import run_service
    from taxinav.demo import data_days, run_batch
    from taxinav.pipeline.runner import DagsterOrchestrator

    settings = get_settings()
    if not settings.cabspotting_dir.is_dir():
        _fail(f"no telemetry at {settings.cabspotting_dir}; set TAXINAV_DATA_DIR")
    run_batch(settings, console, DagsterOrchestrator.for_settings(settings))
    if then_serve:
        _, last = data_days(settings)
        console.rule("[bold]live service (replay)")
        run_service(settings, None, None, last, last, 60.0, guided_share=0.2)


@app.command("settings")
def show_settings() -> None:
    """Print the effective settings (after environment overrides)."""
    console.print_json(get_settings().model_dump_json())
