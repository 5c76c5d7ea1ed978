"""The Dagster pipeline: daily-partitioned assets over the warehouse, quality gates as
blocking asset checks, a retrained model per unit type, schedules and jobs.

Asset bodies are thin: each opens the warehouse and calls a pure function of
``pipeline/daily.py`` / ``pipeline/daily_forecast.py`` that replaces its day in one
transaction. Nothing is built at import; :func:`build_definitions` takes the settings.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import dagster as dg
import duckdb

from taxinav import roads
from taxinav.mlops.metrics import build_registry, record_duration, write_textfile
from taxinav.mlops.monitoring import Monitor, make_monitor
from taxinav.mlops.registry import champion_loader
from taxinav.pipeline import daily, daily_forecast, quality
from taxinav.settings import Settings
from taxinav.warehouse import connect

GROUP = "taxinav"
# Bump when an asset's logic changes; Dagster shows stale partitions after a bump.
CODE_VERSIONS = {
    "landing": "1",
    "road_network": "1",
    "telemetry": "1",
    "trips": "1",
    "pickups": "1",
    "demand": "2",
    "features": "2",
    "forecasts": "1",
    "accuracy": "1",
    "model": "1",
}
_MONITORS: dict[str, Monitor] = {}
if TYPE_CHECKING:
    Materialized = dg.MaterializeResult[Any]
else:  # Dagster reads return annotations at run time and wants the bare class
    Materialized = dg.MaterializeResult


class TaxinavResource(dg.ConfigurableResource[Any]):
    """The settings every asset runs with (serialised, so a run is reproducible)."""

    settings_json: str

    def settings(self) -> Settings:
        return Settings.model_validate_json(self.settings_json)

    def monitor(self) -> Monitor:
        """One monitor per process and settings: alert episodes span partitions of a run."""
        if self.settings_json not in _MONITORS:
            _MONITORS[self.settings_json] = make_monitor(self.settings().monitoring)
        return _MONITORS[self.settings_json]


def resource_for(settings: Settings) -> TaxinavResource:
    return TaxinavResource(settings_json=settings.model_dump_json())


@contextmanager
def warehouse(settings: Settings, step: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse for one asset; its duration is recorded for the metrics."""
    started = time.perf_counter()
    con = connect(
        settings.warehouse_path,
        memory_limit=settings.duckdb_memory_limit,
        threads=settings.duckdb_threads,
    )
    try:
        yield con
    finally:
        con.close()
        record_duration(settings.home, step, time.perf_counter() - started)


def _champions(settings: Settings) -> dict[str, str | None]:
    if not settings.mlops.track:
        return {}
    from taxinav.mlops.registry import CHAMPION, Registry, tracking_uri

    reg = Registry(tracking_uri(settings.home, settings.mlops.tracking_uri))
    return {u: reg.alias(u, CHAMPION) for u in settings.forecast.demo_units}


def write_metrics(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    write_textfile(build_registry(con, settings.home, _champions(settings)), settings.home)


def _results(checks: list[quality.Check], monitor: Monitor, day: str) -> list[dg.AssetCheckResult]:
    out = []
    for c in checks:
        monitor.quality(day, c.name, c.passed, c.detail)
        out.append(
            dg.AssetCheckResult(
                check_name=c.name,
                passed=c.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"value": float(c.value), "detail": c.detail},
            )
        )
    return out


def _checked(
    out: dict[str, Any], checks: list[quality.Check], taxinav: "TaxinavResource", d: daily.Day
) -> Materialized:
    """The asset's summary with its quality gates (failed ones alert through the monitor)."""
    return dg.MaterializeResult(
        metadata=_meta(out), check_results=_results(checks, taxinav.monitor(), str(d.day))
    )


def _meta(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, int | float | str) else str(v) for k, v in summary.items()}


def _spec(name: str, asset: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, blocking=True, description=description)


def build_definitions(settings: Settings) -> dg.Definitions:
    """Every asset, check, job and schedule for these settings."""
    tz = settings.timezone
    part = dg.DailyPartitionsDefinition(
        start_date=settings.pipeline.first_day.isoformat(), timezone=tz, end_offset=0
    )
    around = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=1)
    history = dg.TimeWindowPartitionMapping(start_offset=-7)

    def day_of(context: dg.AssetExecutionContext, s: Settings) -> daily.Day:
        return daily.Day.parse(context.partition_key, s.tz)

    @dg.asset(group_name=GROUP, code_version=CODE_VERSIONS["landing"])
    def landing(context: dg.AssetExecutionContext, taxinav: TaxinavResource) -> Materialized:
        """Validated, de-duplicated telemetry from the source files (the API writes here too)."""
        from rich.console import Console

        from taxinav.pipeline.batch import ingest_cabspotting

        s = taxinav.settings()
        started = time.perf_counter()
        con = connect(s.landing_path, memory_limit=s.duckdb_memory_limit, threads=s.duckdb_threads)
        try:
            r = ingest_cabspotting(con, s, s.cabspotting_dir, Console(stderr=True))
        finally:
            con.close()
        record_duration(s.home, "landing", time.perf_counter() - started)
        return dg.MaterializeResult(
            metadata={
                "files": r.files,
                "file_errors": len(r.errors),
                "loaded": r.counts.loaded,
                "quarantined": str(r.quarantined),
            }
        )

    @dg.asset(group_name=GROUP, code_version=CODE_VERSIONS["road_network"])
    def road_network(taxinav: TaxinavResource) -> Materialized:
        """Directed road segments of the OpenStreetMap extract."""
        from taxinav.pipeline.batch import load_roads

        s = taxinav.settings()
        with warehouse(s, "road_network") as con:
            g = load_roads(con, s, s.osm_path)
        return dg.MaterializeResult(metadata={"segments": g.n_segments, "nodes": g.n_nodes})

    @dg.asset(
        group_name=GROUP,
        partitions_def=part,
        deps=[landing],
        code_version=CODE_VERSIONS["telemetry"],
        check_specs=[
            _spec("telemetry_row_count", "telemetry", "fixes vs the median of recent days"),
            _spec("telemetry_null_rate", "telemetry", "no fix without position/occupancy"),
            _spec("telemetry_coordinate_range", "telemetry", "fixes near the road network"),
        ],
    )
    def telemetry(context: dg.AssetExecutionContext, taxinav: TaxinavResource) -> Materialized:
        """The day's fixes (local day of the fleet's city) and quarantined rows."""
        s = taxinav.settings()
        d = day_of(context, s)
        with warehouse(s, "telemetry") as con:
            out = daily.telemetry_day(con, s.landing_path, d)
            g = roads.read_graph(con)
            bbox = (
                float(g.shape_lat.min()),
                float(g.shape_lat.max()),
                float(g.shape_lon.min()),
                float(g.shape_lon.max()),
            )
            checks = [
                quality.row_count(con, "telemetry", "ts", d, s.pipeline.min_rows_ratio),
                quality.null_rate(con, d),
                quality.coordinate_range(con, d, bbox),
            ]
        return _checked(out, checks, taxinav, d)

    @dg.asset(
        group_name=GROUP,
        partitions_def=part,
        code_version=CODE_VERSIONS["trips"],
        deps=[dg.AssetDep(telemetry, partition_mapping=around)],
        check_specs=[_spec("trips_row_count", "trips", "trips vs the median of recent days")],
    )
    def trips(context: dg.AssetExecutionContext, taxinav: TaxinavResource) -> Materialized:
        """Passenger trips and vacant spells starting that day (a day either side is read)."""
        s = taxinav.settings()
        d = day_of(context, s)
        with warehouse(s, "trips") as con:
            out = daily.trips_day(con, s, d)
            checks = [quality.row_count(con, "trips", "pickup_ts", d, s.pipeline.min_rows_ratio)]
        return _checked(out, checks, taxinav, d)

    @dg.asset(
        group_name=GROUP,
        partitions_def=part,
        code_version=CODE_VERSIONS["pickups"],
        deps=[trips, road_network],
        check_specs=[_spec("pickups_matched_share", "pickups", "pickups snapped to a road")],
    )
    def pickups(context: dg.AssetExecutionContext, taxinav: TaxinavResource) -> Materialized:
        """The day's pickups and drop-offs map-matched to directed road segments."""
        s = taxinav.settings()
        d = day_of(context, s)
        with warehouse(s, "pickups") as con:
            out = daily.pickups_day(con, s, roads.read_graph(con), d)
            checks = [quality.matched_share(con, d, s.pipeline.min_matched_share)]
        return _checked(out, checks, taxinav, d)

    @dg.asset(
        group_name=GROUP,
        partitions_def=part,
        code_version=CODE_VERSIONS["demand"],
        deps=[pickups, telemetry],
    )
    def demand(context: dg.AssetExecutionContext, taxinav: TaxinavResource) -> Materialized:
        """Pickups and vacant vehicles per unit (H3 cell, road segment) and 10-minute slot."""
        s = taxinav.settings()
        d = day_of(context, s)
        with warehouse(s, "demand") as con:
            out = daily.demand_day(con, s, roads.read_graph(con), d)
        return dg.MaterializeResult(metadata=_meta(out))

    assets: list[Any] = [landing, road_network, telemetry, trips, pickups, demand]
    for unit in settings.pipeline.forecast_units:
        assets += _unit_assets(unit, part, history, demand, pickups)
    daily_job = dg.define_asset_job(
        "daily",
        selection=dg.AssetSelection.assets(*[a for a in assets if a.partitions_def]),
        executor_def=dg.in_process_executor,
    )
    retrain_job = dg.define_asset_job(
        "retrain",
        selection=dg.AssetSelection.groups(f"{GROUP}_models"),
        executor_def=dg.in_process_executor,
    )
    sources_job = dg.define_asset_job(
        "sources",
        selection=dg.AssetSelection.assets(landing, road_network),
        executor_def=dg.in_process_executor,
    )
    schedules = [
        dg.build_schedule_from_partitioned_job(
            daily_job,
            hour_of_day=settings.pipeline.daily_at.hour,
            minute_of_hour=settings.pipeline.daily_at.minute,
        ),
        dg.ScheduleDefinition(
            job=retrain_job, cron_schedule=settings.pipeline.retrain_cron, execution_timezone=tz
        ),
    ]
    return dg.Definitions(
        assets=assets,
        jobs=[daily_job, retrain_job, sources_job],
        schedules=schedules,
        resources={"taxinav": resource_for(settings)},
        executor=dg.in_process_executor,
    )


def _unit_assets(
    unit: str,
    part: dg.DailyPartitionsDefinition,
    history: dg.TimeWindowPartitionMapping,
    demand: dg.AssetsDefinition,
    pickups: dg.AssetsDefinition,
) -> list[dg.AssetsDefinition]:
    """Features, forecasts, realised accuracy and the trained model of one unit type."""

    def day_of(context: dg.AssetExecutionContext, s: Settings) -> daily.Day:
        return daily.Day.parse(context.partition_key, s.tz)

    @dg.asset(
        name=f"model_{unit}",
        group_name=f"{GROUP}_models",
        deps=[demand, pickups],
        code_version=CODE_VERSIONS["model"],
    )
    def model(taxinav: TaxinavResource) -> Materialized:
        """LightGBM retrained over the rolling window (``forecast.train_window_days``) before
        the latest evaluation days, logged to MLflow, registered as challenger and promoted
        only past the gate (beats the champion and the base model on those days)."""
        from taxinav.pipeline import forecasting

        s = taxinav.settings()
        with warehouse(s, f"model_{unit}") as con:
            out = forecasting.backtest(con, s, unit, None, s.forecast.demo_test_days)
            write_metrics(con, s)
        m = out.get("mlflow") or {}
        return dg.MaterializeResult(
            metadata={
                "rmse": float(out["models"]["lightgbm"]["rmse"]),
                "base_rmse": float(out["models"]["historical_average"]["rmse"]),
                "run_id": str(m.get("run_id", "")),
                "version": str(m.get("version", "")),
                "champion": str(m.get("champion", "")),
                "promoted": bool(m.get("promoted", False)),
            }
        )

    @dg.asset(
        name=f"features_{unit}",
        group_name=GROUP,
        partitions_def=part,
        deps=[dg.AssetDep(demand, partition_mapping=history)],
        code_version=CODE_VERSIONS["features"],
    )
    def features(context: dg.AssetExecutionContext, taxinav: TaxinavResource) -> Materialized:
        """Forecasting features of every unit × slot of the day (all earlier days feed the
        historical statistics; the mapping shows the last week)."""
        s = taxinav.settings()
        with warehouse(s, f"features_{unit}") as con:
            out = daily_forecast.features_day(
                con, s, roads.read_graph(con), unit, day_of(context, s)
            )
        return dg.MaterializeResult(metadata=_meta(out))

    @dg.asset(
        name=f"forecasts_{unit}",
        group_name=GROUP,
        partitions_def=part,
        deps=[features, model],
        code_version=CODE_VERSIONS["forecasts"],
    )
    def forecasts(context: dg.AssetExecutionContext, taxinav: TaxinavResource) -> Materialized:
        """Pickups in the next 30 minutes from every slot: ``@champion`` and the base model."""
        s = taxinav.settings()
        with warehouse(s, f"forecasts_{unit}") as con:
            out = daily_forecast.forecasts_day(con, s, unit, day_of(context, s), champion_loader(s))
        return dg.MaterializeResult(metadata=_meta(out))

    @dg.asset(
        name=f"accuracy_{unit}",
        group_name=GROUP,
        partitions_def=part,
        deps=[forecasts],
        code_version=CODE_VERSIONS["accuracy"],
    )
    def accuracy(context: dg.AssetExecutionContext, taxinav: TaxinavResource) -> Materialized:
        """Realised errors per hour of the served (champion) and base forecasts; alerts."""
        s = taxinav.settings()
        d = day_of(context, s)
        with warehouse(s, f"accuracy_{unit}") as con:
            out = daily_forecast.accuracy_day(con, s, unit, d, taxinav.monitor())
            write_metrics(con, s)
        return dg.MaterializeResult(metadata=_meta(out))

    return [features, model, forecasts, accuracy]
