"""One typed settings object for the whole system (env prefix ``TAXINAV_``).

Nested sections use ``__`` in environment names, e.g. ``TAXINAV_INGEST__GAP_LIMIT_MIN=15``.
Nothing here runs at import: call :func:`get_settings`. Each description states a value's
meaning and unit; the history of each tuned value is in ``docs/decisions.md``.
"""

from __future__ import annotations

import hashlib
import os
from datetime import date, time
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "ForecastSettings",
    "IngestSettings",
    "SimSettings",
    "RoadsSettings",
    "Settings",
    "get_settings",
    "with_secrets",
]

_SHARED_DATA = Path("../shared/data")


def _default_data_dir() -> Path:
    return _SHARED_DATA if _SHARED_DATA.exists() else Path("data")


class IngestSettings(BaseModel):
    """Validation and trip-derivation rules for vehicle telemetry."""

    gap_limit_min: float = Field(
        10.0, gt=0, description="Minutes; a GPS gap longer than this ends a trip or spell."
    )
    max_speed_kmh: float = Field(
        200.0, gt=0, description="km/h; a fix implying faster motion from its neighbours is bad."
    )
    min_valid_year: int = Field(
        2000, description="Calendar year; fixes dated before 1 January of it are rejected."
    )
    max_future_days: float = Field(
        1.0, ge=0, description="Days; fixes dated more than this past 'now' are rejected."
    )
    workers: int = Field(2, ge=1, description="Count of processes parsing files.")
    source: Literal["cabspotting", "generic"] = Field(
        "cabspotting",
        description="Layout of the telemetry files the pipeline loads: cabspotting "
        "(new_<cab>.txt[.gz] per cab, in data_dir/cabspotting-sf) or generic (CSV / Parquet "
        "files of vehicle_id, ts, lat, lon, occupied, in data_dir/telemetry).",
    )
    telemetry_dir: Path | None = Field(
        None, description="Folder of the telemetry files (unset: the source's folder under "
        "data_dir).",
    )  # fmt: skip
    jump_check_rounds: int = Field(
        5, ge=1, description="Count of passes removing isolated bad fixes (jumps)."
    )


class RoadsSettings(BaseModel):
    """Road network and map matching."""

    osm_file: Path | None = Field(
        None, description="OSM XML/PBF file of the road network (unset: data_dir/osm/*.osm*)."
    )
    h3_resolution: int = Field(
        9, ge=0, le=15,
        description="H3 resolution (0 coarsest … 15 finest) of the cell attached to each segment.",
    )  # fmt: skip
    match_radius_m: float = Field(
        50.0, gt=0, description="Metres; farthest a pickup or drop-off is snapped to a segment."
    )
    heading_weight_m: float = Field(
        20.0, ge=0,
        description="Metres of distance a fully opposite heading counts as when snapping "
        "(0: heading ignored).",
    )  # fmt: skip
    meili_search_radius_m: float = Field(
        50.0, gt=0, description="Metres; Meili's radius for candidate segments around a fix."
    )
    meili_gps_accuracy_m: float = Field(
        10.0, gt=0, description="Metres; Meili's GPS error (standard deviation of a fix)."
    )
    meili_workers: int = Field(
        2, ge=1, description="Count of processes, each running one Valhalla actor."
    )
    meili_max_trace_points: int = Field(
        500, ge=2, description="Count of fixes per Meili trace; longer traces are split."
    )


class ForecastSettings(BaseModel):
    """Demand forecasting."""

    slot_minutes: int = Field(
        10, ge=1, le=60, description="Length of a time slot, minutes (must divide a day)."
    )
    horizon_min: int = Field(
        30, ge=1, le=240,
        description="Forecast horizon, minutes: pickups from a slot's start over this long; a "
        "whole number of slots.",
    )  # fmt: skip
    h3_resolution: int = Field(
        8, ge=0, le=15, description="H3 resolution (0 coarsest … 15 finest) of operator units."
    )
    valid_days: int = Field(
        2, ge=1, description="Days at the end of training held out for tuning choices."
    )
    train_window_days: int | None = Field(
        28, ge=1,
        description="Days of the rolling training window before the validation days (None: "
        "all data).",
    )  # fmt: skip
    road_zero_keep: float = Field(
        0.1, gt=0, le=1,
        description="Share 0–1 of road rows with zero pickups kept for training (1: all kept).",
    )  # fmt: skip
    mape_threshold: float = Field(
        10.0, ge=0,
        description="Pickups per unit and slot; masked MAPE counts only actuals above this.",
    )  # fmt: skip
    demo_test_days: int = Field(7, ge=1, description="Days the demo backtest holds out.")
    demo_units: tuple[str, ...] = Field(
        ("h3", "road"), description="Unit types the demo forecasts ('h3', 'road')."
    )

    @model_validator(mode="after")
    def _horizon_in_slots(self) -> ForecastSettings:
        if 24 * 60 % self.slot_minutes:
            raise ValueError(f"slot_minutes={self.slot_minutes} does not divide a day")
        if self.horizon_min % self.slot_minutes:
            raise ValueError(
                f"horizon_min={self.horizon_min} is not a multiple of slot_minutes="
                f"{self.slot_minutes}"
            )
        return self


class TariffSettings(BaseModel):
    """The taxi meter of the fleet's city (default: San Francisco 2008, approximately)."""

    flag_drop: float = Field(
        3.10, ge=0, description="Currency units charged on boarding, including included_km."
    )
    per_km: float = Field(
        0.45 * 5 / 1.609344, ge=0, description="Currency units per km after included_km."
    )
    included_km: float = Field(
        0.2 * 1.609344, ge=0, description="Km of the ride the flag drop pays for."
    )
    per_minute: float = Field(
        0.0, ge=0, description="Currency units per minute of the ride (0: distance only)."
    )


class SimSettings(BaseModel):
    """Fleet simulator."""

    tariff: TariffSettings = Field(default_factory=TariffSettings)

    patience_s: float = Field(
        300.0, gt=0, description="Seconds a simulated hail waits for a taxi before it leaves."
    )
    fix_interval_s: float = Field(
        60.0, gt=0, description="Seconds between two GPS fixes of a simulated taxi: what a "
        "guided planner sees of the fleet.",
    )  # fmt: skip
    match_radius_m: float = Field(
        100.0, gt=0, description="Metres; a vacant taxi this close to a hail can serve it."
    )
    tick_s: float = Field(10.0, gt=0, le=60, description="Seconds per simulation clock step.")
    demand_boost: bool = Field(
        False, description="Add estimated unserved hails to the recorded ones (sim/demand.py)."
    )
    traffic_speed: bool = Field(
        True,
        description="Scale free-flow speeds by the real speed of each hour of day (off: "
        "free-flow throughout).",
    )
    dispatch_share: float | None = Field(
        None, ge=0, le=1,
        description="Share 0–1 of requests booked by phone (radio dispatch) at every hour; "
        "unset: per 4-hour block and day from its demand pressure, fitted on the calibration "
        "days before each simulated period (sim/booking.py, sim/calibration.py).",
    )  # fmt: skip
    calibration_days: int = Field(
        7, ge=1, le=14, description="Days right before a simulated period used to calibrate it."
    )
    dispatch_grid: tuple[float, ...] = Field(
        (0.0, 0.375, 0.75),
        min_length=2,
        description="Booking shares 0–1 simulated on each calibration day; at least two, as the "
        "bias is fitted as a line in the share.",
    )
    return_limit_min: float = Field(
        120.0, gt=0,
        description="Minutes; a cab that left with a passenger and came back within this long "
        "has its simulated twin stay in the area meanwhile.",
    )  # fmt: skip


class RoutingSettings(BaseModel):
    """Cruising-route recommendation (routing/)."""

    horizon_min: float = Field(
        15.0, gt=0, le=60, description="Minutes of driving a recommended route covers."
    )
    lookahead_min: float = Field(
        8.0, gt=0, le=60,
        description="Minutes the cruising MDP looks ahead; routes re-plan at every step with it.",
    )  # fmt: skip
    tick_s: float = Field(15.0, gt=0, le=120, description="Seconds per step of the cruising MDP.")
    temperature: float = Field(
        0.05, ge=0,
        description="Dollars; softmax temperature over moves' values when few vacant taxis are "
        "guided, spreading them over near-equal moves (0: greedy, each takes the best move).",
    )  # fmt: skip
    fleet_temperature: float | None = Field(
        0.10, ge=0,
        description="Dollars; the temperature when every vacant taxi is guided, moving from "
        "`temperature` with the guided share of the vacant fleet (unset: `temperature` "
        "throughout).",
    )  # fmt: skip
    cost_per_km: float = Field(0.25, ge=0, description="Dollars per km of driving empty.")
    discount_per_min: float = Field(
        0.8, gt=0, le=1,
        description="Factor per minute: the value of a fare found a minute later relative to "
        "now (1: no discount; near 0: only fares found at once count).",
    )  # fmt: skip
    fleet_objective: bool = Field(
        True,
        description="Coordinated plans value a pass of a segment by what it adds to the "
        "guided group's pickups (net of passengers the next guided taxi would take), as far "
        "as guided taxis make up the vacant fleet; off: by what the one taxi finds.",
    )
    chance_scale: float = Field(
        0.31, gt=0, le=5,
        description="Hazard scale κ (no unit) of the chance of a passenger stated on routes, "
        "1 − (1 − p)^κ per step (routing/reliability.py; 1: unscaled); routes and plans are "
        "unchanged.",
    )  # fmt: skip
    iterations: int = Field(
        2, ge=1, le=50, description="Count of mean-field rounds per plan refresh."
    )
    damping: float = Field(
        0.5, gt=0, le=1,
        description="Share 0–1 of each mean-field round's new estimate mixed into the last "
        "(1: the new estimate replaces it).",
    )  # fmt: skip
    refresh_s: float = Field(60.0, gt=0, description="Seconds between fleet plan refreshes.")
    near_demand: bool = Field(
        False,
        description="Count hails within the match radius of a segment as reachable (off: "
        "only hails on the segment).",
    )
    max_route_km: float = Field(20.0, gt=0, description="km; longer routes are not served.")
    fare_by_segment: bool = Field(
        False,
        description="Weigh the chance of a passenger by the segment's expected fare (off: "
        "every ride is worth the city-wide mean fare).",
    )
    patience_s: float = Field(
        300.0, gt=0, description="Seconds a hail is assumed to wait when planning; the "
        "planner's own belief, independent of the simulator's patience.",
    )  # fmt: skip
    max_segment_visits: int = Field(
        4, ge=1, description="Count of drives of one segment above which a route that also "
        "spends 40 % of its drives there (a taxi sent to and fro) counts as a loop and is not "
        "served; waits excluded.",
    )  # fmt: skip
    wait_at_stands: bool = Field(
        False,
        description="Let routes wait where drivers are seen to stand (taxi stands).",
    )
    stand_min_wait_s: float = Field(
        120.0, gt=0, description="Seconds of mean standing time that make a segment a stand."
    )


WEBHOOK_URL_ENV = "TAXINAV_MONITORING__WEBHOOK_URL"
POSTGRES_URL_ENV = "TAXINAV_PIPELINE__POSTGRES_URL"


class MlopsSettings(BaseModel):
    """Experiment tracking and the model registry (mlops/registry.py)."""

    tracking_uri: str | None = Field(
        None, description="MLflow tracking server (unset: SQLite store under TAXINAV_HOME)."
    )
    promotion_margin: float = Field(
        0.02, ge=0, lt=1,
        description="Share 0–1 of RMSE by which a challenger must beat the base model and the "
        "champion to be promoted (0: any improvement).",
    )  # fmt: skip
    track: bool = Field(True, description="Log forecast training runs and register models.")
    job_memory_gib: float = Field(
        6.0, gt=0,
        description="GiB of resident memory a training job (its own process, launched by the "
        "pipeline and the demo) may reach; beyond it the job is stopped and fails with this "
        "setting's name. Keep DuckDB's cap (`TAXINAV_DUCKDB_MEMORY_LIMIT`) below it.",
    )  # fmt: skip


class MonitoringSettings(BaseModel):
    """Accuracy monitoring and alerts (mlops/monitoring.py)."""

    consecutive_windows: int = Field(
        3, ge=1,
        description="Count of consecutive hourly windows the champion must trail the base "
        "model before an alert.",
    )  # fmt: skip
    margin: float = Field(
        0.0, ge=0,
        description="Share of the base model's RMSE by which the champion's must exceed it to "
        "count as worse (0: any excess).",
    )  # fmt: skip
    late_after_min: float = Field(
        15.0, gt=0, description="Minutes since the last fix after which telemetry is late."
    )
    webhook_url: SecretStr | None = Field(
        None,
        description="Slack-compatible webhook for alerts (unset: log only). A secret: dumps "
        "and logs show it masked; a pipeline run reads it from the environment.",
    )


class PipelineSettings(BaseModel):
    """The daily-partitioned Dagster pipeline (pipeline/assets/) and its quality gates."""

    first_day: date = Field(
        date(2008, 5, 17), description="First daily partition (local date of the fleet's city)."
    )
    nice: int = Field(
        10, ge=0, le=19,
        description="CPU niceness a pipeline process lowers itself to (0: the service's "
        "priority; 19: lowest): on a shared host the batch yields the CPU to the service's "
        "requests and takes what is left.",
    )  # fmt: skip
    postgres_url: SecretStr | None = Field(
        None,
        description="PostgreSQL URL (postgresql://user[:password]@host:port/db) of the Dagster "
        "instance's run, event and schedule storage, so that the daemon, the web server and "
        "several `taxinav pipeline run`s record partitions concurrently (unset: SQLite under "
        "`<home>/dagster`). A secret: the instance's dagster.yaml names this variable, not "
        "its value.",
    )
    context_hours: float = Field(
        24.0, ge=1, description="Hours of telemetry read either side of a day to close its "
        "trips/spells.",
    )  # fmt: skip
    forecast_units: tuple[str, ...] = Field(
        ("h3",), description="Unit types forecast per partition with the champion."
    )
    min_rows_ratio: float = Field(
        0.3, ge=0, le=1,
        description="Share 0–1 of the recent days' median row count below which a day fails.",
    )  # fmt: skip
    min_matched_share: float = Field(
        0.4, ge=0, le=1,
        description="Share 0–1 of a day's pickups snapped to a road below which the day fails.",
    )  # fmt: skip
    daily_at: time = Field(
        time(0, 30), description="Local time of day at which yesterday's partition runs."
    )
    retrain_cron: str = Field(
        "0 3 * * 1", description="Cron expression, local time, of the models' retraining."
    )


Role = Literal["driver", "operator", "ingest"]
# Development tokens (their SHA-256 below); the service refuses them in production mode.
DEV_TOKENS: dict[str, tuple[Role, str | None]] = {
    "dev-operator-token": ("operator", None),
    "dev-ingest-token": ("ingest", None),
    "dev-driver-token": ("driver", "abboip"),
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenSpec(BaseModel):
    """A bearer token by the SHA-256 of its secret; drivers are bound to their vehicle."""

    name: str
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    vehicle_id: str | None = None


def _dev_tokens() -> list[TokenSpec]:
    return [TokenSpec(name=f"dev-{role}", role=role, sha256=token_hash(t), vehicle_id=v)
            for t, (role, v) in DEV_TOKENS.items()]  # fmt: skip


class StreamSettings(BaseModel):
    """The telemetry stream on NATS JetStream (serve/stream.py); unset URL: the embedded
    append log."""

    url: str | None = Field(
        None,
        description="NATS server (nats://host:port) with JetStream: accepted fixes are published "
        "there and acknowledged once the broker acknowledged them; `taxinav consume landing` "
        "lands them. Unset: the service's own append log.",
    )
    name: str = Field("TAXINAV_TELEMETRY", description="JetStream stream of the telemetry.")
    subject: str = Field(
        "taxinav.telemetry",
        description="Subject prefix: `<subject>.fixes.<partition>` and `<subject>.rides.0`.",
    )
    partitions: int = Field(
        8, ge=1, description="Fix subjects, by a hash of the vehicle id: a vehicle's fixes stay "
        "in order on one subject, and consumers can split the subjects between them.",
    )  # fmt: skip
    duplicate_window_s: float = Field(
        120.0, gt=0, description="Seconds within which the broker drops a batch published again "
        "(the same message id: a client's retry after a lost acknowledgement).",
    )  # fmt: skip
    ack_timeout_s: float = Field(
        10.0, gt=0, description="Seconds a publish waits for the broker before the request fails."
    )


class SparkSettings(BaseModel):
    """The Spark session of the daily counts and features when ``engine`` is ``spark``."""

    master: str = Field(
        "local[2]", description="Spark master URL: local[K] (K cores of this machine), "
        "spark://host:port (a standalone cluster) or another master Spark accepts.",
    )  # fmt: skip
    driver_memory: str = Field("2g", description="Heap of Spark's driver JVM, e.g. '2g'.")
    shuffle_partitions: int = Field(
        4, ge=1, description="Partitions of a shuffle (joins, windows): a few per core."
    )


class ServeSettings(BaseModel):
    """The real-time service (serve/)."""

    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port the API listens on.")
    production: bool = Field(False, description="Refuse development or missing tokens.")
    access_log: bool = Field(False, description="Log one line per HTTP request (uvicorn.access).")
    tokens: list[TokenSpec] = Field(
        default_factory=_dev_tokens, description="Accepted bearer tokens (default: dev tokens)."
    )
    max_batch_items: int = Field(
        5000, ge=1, description="Count of items per request; larger batches get 413."
    )
    max_body_bytes: int = Field(
        4_000_000, ge=1024, description="Bytes per request body; larger bodies get 413."
    )
    refresh_s: float = Field(
        60.0, gt=0, description="Seconds of data time between forecast and plan refreshes."
    )
    min_refresh_wall_s: float = Field(
        2.0, ge=0,
        description="Seconds of wall time at least between refreshes, which bounds a fast "
        "replay (0: no bound).",
    )  # fmt: skip
    flush_s: float = Field(
        2.0, gt=0, description="Seconds between loads of the append log into the landing store."
    )
    ingest_workers: int = Field(
        1, ge=1, le=16,
        description="Ingest processes acknowledging telemetry side by side: they share the "
        "ingest port (SO_REUSEPORT) and the API port forwards to them in turn. Above 1 each "
        "keeps its own append log (`<log>/worker-<k>`) and lands as source `api-w<k>`.",
    )  # fmt: skip
    ingest_process: bool = Field(
        True,
        description="Acknowledge telemetry and ride events in a process of its own, which owns "
        "the append log and hands accepted batches to the service (its interpreter is not "
        "shared with route re-draws, the live state and the refresh). Off: in the service's "
        "process.",
    )
    ingest_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="TCP port on which the ingest process also answers `POST /v1/telemetry` "
        "and `/v1/rides` itself (at `host`), for telemetry gateways: the API port forwards "
        "them to it as well, through the service's event loop. Unset: only through the API "
        "port.",
    )
    log_dir: Path | None = Field(
        None,
        description="Folder of the append log that acknowledgements wait for (unset: "
        "`<home>/serve/log`); a disk of its own keeps its syncs from queueing behind other "
        "writes.",
    )
    switch_interval_ms: float = Field(
        0.5, gt=0,
        description="Milliseconds a running thread keeps the interpreter while another waits "
        "(`sys.setswitchinterval`; Python's default is 5): a request waiting behind background "
        "work waits about this long at each hand-over.",
    )  # fmt: skip
    landing: Path | None = Field(
        None,
        description="Folder of the API's landing segments (Parquet; unset: `<home>/landing/api`, "
        "which the daily pipeline reads). A replay with simulated guided twins writes to its "
        "own (`<home>/serve/replay_landing`), so simulated fixes never reach the warehouse.",
    )
    tile_url: str | None = Field(
        None, description="URL template of map tiles under the road layer (unset: none)."
    )
    guided_vehicles: list[str] | None = Field(
        None, description="Vehicles whose drivers follow the routes; the plan counts the other "
        "vacant taxis as competition cruising by their habits (unset: every vehicle). A replay "
        "with simulated twins sets it to the twins.",
    )  # fmt: skip


class Settings(BaseSettings):
    """Everything configurable. Artifacts all live under ``home``."""

    model_config = SettingsConfigDict(
        env_prefix="TAXINAV_", env_nested_delimiter="__", extra="ignore"
    )

    home: Path = Field(Path("var"), description="Warehouse, models and reports go here.")
    data_dir: Path = Field(default_factory=_default_data_dir, description="Raw data is read here.")
    timezone: str = Field("America/Los_Angeles", description="IANA time zone of the fleet's city.")
    seed: int = Field(20080517, description="Seed for every random choice.")
    duckdb_memory_limit: str = Field(
        "3GB",
        description="DuckDB memory cap, a size with its unit (e.g. '2GB'); beyond it DuckDB "
        "spills to disk. Counted inside a batch process's peak, next to its own frames.",
    )
    duckdb_threads: int = Field(2, ge=1, description="Count of threads DuckDB uses.")
    engine: Literal["duckdb", "spark"] = Field(
        "duckdb",
        description="Where the daily pipeline computes demand counts and features: embedded "
        "DuckDB, or Spark (`spark` section) through the day-partitioned Parquet lake under "
        "`<home>/lake`; either way the rows land in the warehouse.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least severe log records written to standard error."
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="Log records as text lines (UTC time, level, logger, message) or one JSON "
        "object per line.",
    )
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    roads: RoadsSettings = Field(default_factory=RoadsSettings)
    forecast: ForecastSettings = Field(default_factory=ForecastSettings)
    sim: SimSettings = Field(default_factory=SimSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    mlops: MlopsSettings = Field(default_factory=MlopsSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def lake_dir(self) -> Path:
        """Day-partitioned Parquet that DuckDB and Spark both read and write."""
        return self.home / "lake"

    @property
    def landing_path(self) -> Path:
        """Validated telemetry as it arrives (files, API), before daily partitions."""
        return self.home / "landing.duckdb"

    @property
    def pipeline_api_landing(self) -> Path:
        """The API landing segments the daily pipeline reads."""
        return self.home / "landing" / "api"

    @property
    def api_landing_dir(self) -> Path:
        """Where the service writes what the API accepted (Parquet segments)."""
        return self.serve.landing or self.pipeline_api_landing

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def valhalla_dir(self) -> Path:
        return self.home / "valhalla"

    @property
    def cabspotting_dir(self) -> Path:
        return self.data_dir / "cabspotting-sf"

    @property
    def telemetry_dir(self) -> Path:
        """The telemetry files the pipeline loads (``ingest.source`` says their layout)."""
        if self.ingest.telemetry_dir is not None:
            return self.ingest.telemetry_dir
        return (
            self.cabspotting_dir
            if self.ingest.source == "cabspotting"
            else (self.data_dir / "telemetry")
        )

    @property
    def osm_path(self) -> Path:
        if self.roads.osm_file is not None:
            return self.roads.osm_file
        found = sorted((self.data_dir / "osm").glob("*.osm*"))
        if not found:
            raise FileNotFoundError(
                f"no OSM file under {self.data_dir / 'osm'}; set TAXINAV_ROADS__OSM_FILE"
            )
        return found[0]


def with_secrets(settings: Settings) -> Settings:
    """The settings with the secrets a dump masks put back from the environment.

    Settings sent to another process travel as a dump (Dagster stores a run's resource config
    with the run; a training job reads them from a file), which masks the secrets; that
    process reads the alert webhook's URL from ``TAXINAV_MONITORING__WEBHOOK_URL``."""
    if settings.monitoring.webhook_url is None:
        return settings
    url = os.environ.get(WEBHOOK_URL_ENV)
    secret = SecretStr(url) if url else None
    return settings.model_copy(
        update={"monitoring": settings.monitoring.model_copy(update={"webhook_url": secret})}
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
