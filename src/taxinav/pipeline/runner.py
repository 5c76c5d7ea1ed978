"""Running the Dagster pipeline in-process (no server): one day, a backfill, or a subset of
assets from a middle step, recorded in the instance under ``<home>/dagster`` so that
``taxinav pipeline ui`` shows every run."""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import dagster as dg

from taxinav import logs
from taxinav.pipeline.assets import CODE_VERSIONS, build_definitions
from taxinav.pipeline.resources import MASK
from taxinav.settings import POSTGRES_URL_ENV, Settings
from taxinav.warehouse import publish_reader

SOURCES = ("landing", "road_network")
# A day's trips read the next day's telemetry, so a backfill loads all telemetry first.
FIRST_PHASE = ("telemetry",)


RUN_LOGGER = "taxinav.pipeline.run"
_JOB = "__ephemeral_asset_job__"  # the name dg.materialize gives its runs


_THRESHOLD = dg.Field(
    str, is_required=False, default_value="NOTSET", description="NOTSET: the root logger's."
)


@dg.logger(
    dg.Field({"log_level": _THRESHOLD}),
    description="Dagster's run events as records of taxinav.pipeline.run, written by the root "
    "handler taxinav.logs configures (no handler of its own).",
)
def run_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    """The ``console`` logger of every run: the process's logging, not Dagster's colours."""
    log = logging.getLogger(RUN_LOGGER)
    log.setLevel(init_context.logger_config["log_level"])
    return log


@dataclass
class DayRun:
    day: date
    assets: list[str]
    seconds: float
    success: bool
    failed_checks: list[str] = field(default_factory=list)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)


@functools.lru_cache(maxsize=4)
def _definitions(settings_json: str) -> dg.Definitions:
    """Built once per settings: a backfill runs every partition with the same definitions."""
    return build_definitions(Settings.model_validate_json(settings_json))


def instance_for(settings: Settings) -> dg.DagsterInstance:
    """The persistent local instance (run history, materialisations, check results)."""
    home = settings.dagster_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    # Two pipeline processes starting on a fresh home would both create the instance's
    # SQLite schema; one at a time does it, the other then finds it made.
    with open(home / ".instance.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        config = home / "dagster.yaml"
        text = _instance_yaml(settings)
        if not config.exists() or config.read_text() != text:
            config.write_text(text)
        instance = dg.DagsterInstance.from_config(str(home))
        instance.get_runs(limit=1)  # the run and event storages exist before the lock goes
        return instance


# The instance reads its PostgreSQL URL from here, with the driver Dagster's storage is written
# for (psycopg2: it sends NOTIFY with client-side parameters, which psycopg 3 cannot).
DAGSTER_POSTGRES_ENV = "TAXINAV_DAGSTER_POSTGRES_URL"


def _instance_yaml(settings: Settings) -> str:
    """The instance's configuration: telemetry off (nothing may leave this machine); storage
    in PostgreSQL when ``pipeline.postgres_url`` is set, read from an environment variable by
    this process and every one Dagster starts (the file holds no password)."""
    text = "telemetry:\n  enabled: false\n"
    url = settings.pipeline.postgres_url
    if url is None:
        return text
    value = url.get_secret_value()
    if value == MASK:  # settings from a dump hold the mask; the environment has the URL
        value = os.environ.get(POSTGRES_URL_ENV, value)
    scheme, sep, rest = value.partition("://")
    if sep and scheme in ("postgres", "postgresql"):
        value = f"postgresql+psycopg2://{rest}"
    os.environ[DAGSTER_POSTGRES_ENV] = value
    return text + f"storage:\n  postgres:\n    postgres_url:\n      env: {DAGSTER_POSTGRES_ENV}\n"


def partitioned_assets(settings: Settings) -> list[str]:
    """Daily assets in dependency order."""
    names = ["telemetry", "trips", "pickups", "demand"]
    for unit in settings.pipeline.forecast_units:
        names += [f"features_{unit}", f"forecasts_{unit}", f"accuracy_{unit}"]
    return names


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization  # type: ignore[union-attr]
        out[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    return out


def _failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        e.asset_check_evaluation_data.check_name
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and not e.asset_check_evaluation_data.passed
    ]


def _failure(result: dg.ExecuteInProcessResult) -> str:
    """The first failed step and the error that failed it (with its cause)."""
    for e in result.all_events:
        if e.is_step_failure and e.step_failure_data.error is not None:
            err = e.step_failure_data.error
            cause = err.cause.to_string() if err.cause is not None else ""
            return f"step {e.step_key}: {err.message.strip()} {cause.strip()}"
    return "unknown failure"


def _yield_cpu(niceness: int) -> None:
    """Lower this process's CPU priority to ``niceness`` (never raise it back)."""
    current = os.nice(0)
    if niceness > current:
        os.nice(niceness - current)


def materialize(
    settings: Settings,
    assets: Sequence[str],
    day: date | None = None,
    instance: dg.DagsterInstance | None = None,
    log_level: str | None = None,
    publish: bool = True,
) -> DayRun:
    """Materialise ``assets`` (for ``day`` when they are partitioned) in one run; then
    publish the warehouse's read replica (unless ``publish`` is false).

    Logging is the process's (``taxinav.logs``, configured from ``settings`` unless the
    command line did it); the run's Dagster events are logged at ``log_level`` or above, by
    default WARNING (DEBUG when the process logs DEBUG)."""
    _yield_cpu(settings.pipeline.nice)
    logs.configure_default(settings.log_level, settings.log_format)
    if instance is None:  # a throw-away instance, cleaned up when the run is done
        with dg.DagsterInstance.ephemeral() as temporary:
            return materialize(settings, assets, day, temporary, log_level, publish)
    if log_level is None:
        # Step-by-step debug lines would drown the progress bars; failures still show.
        debug = logging.getLogger().isEnabledFor(logging.DEBUG)
        log_level = "DEBUG" if debug else "WARNING"
    defs = _definitions(settings.model_dump_json())
    job = dg.Definitions(  # what dg.materialize builds, with the run logger
        jobs=[dg.define_asset_job(_JOB, selection=list(assets))],
        assets=defs.assets,
        resources=defs.resources,
        loggers={"console": run_logger},
    ).resolve_job_def(_JOB)
    started = time.perf_counter()
    result = job.execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        instance=instance,
        partition_key=day.isoformat() if day else None,
        raise_on_error=False,
        tags={"taxinav/source": "cli"},
    )
    run = DayRun(
        day or date.min, list(assets), time.perf_counter() - started, result.success,
        _failed_checks(result), _metadata(result),
    )  # fmt: skip
    if not result.success and not run.failed_checks:
        raise RuntimeError(f"pipeline run for {day or 'sources'} failed: {_failure(result)}")
    if publish and set(assets) != {"landing"}:
        publish_reader(settings)
    return run


def days_between(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + timedelta(days=k) for k in range((end - start).days + 1)]


def backfill(
    settings: Settings,
    start: date,
    end: date,
    instance: dg.DagsterInstance | None = None,
    assets: Sequence[str] | None = None,
    on_run: Callable[[DayRun], None] | None = None,
    skip: Collection[date] = (),
    publish: bool = True,
) -> list[DayRun]:
    """Every day in [start, end]: telemetry of all days first (trips read a day either side),
    then the rest of each day in order. ``assets`` restricts the run to a middle step and
    what follows it, without recomputing upstream; days in ``skip`` (blocked earlier) are
    left out."""
    chosen = list(assets) if assets else partitioned_assets(settings)
    runs = []
    blocked: set[date] = set(skip)  # a failed quality gate stops the rest of that day
    phases = [[a for a in chosen if a in FIRST_PHASE], [a for a in chosen if a not in FIRST_PHASE]]
    for phase in phases:
        if not phase:
            continue
        for d in days_between(start, end):
            if d in blocked:
                continue
            run = materialize(settings, phase, d, instance, publish=False)
            if run.failed_checks:
                blocked.add(d)
            runs.append(run)
            if on_run is not None:
                on_run(run)
    if runs and publish:
        publish_reader(settings)
    return runs


@dataclass
class DagsterOrchestrator:
    """The pipeline as the demo batch drives it (the demo never imports Dagster)."""

    settings: Settings
    instance: dg.DagsterInstance
    code_versions: dict[str, str] = field(default_factory=lambda: dict(CODE_VERSIONS))
    first_phase: tuple[str, ...] = FIRST_PHASE

    @classmethod
    def for_settings(cls, settings: Settings) -> DagsterOrchestrator:
        return cls(settings, instance_for(settings))

    def source(self, asset: str) -> dict[str, Any]:
        run = materialize(self.settings, [asset], None, self.instance, publish=False)
        return {**run.metadata.get(asset, {}), "seconds": round(run.seconds, 1)}

    def backfill(
        self, start: date, end: date, assets: Sequence[str] | None = None,
        on_run: Callable[[DayRun], None] | None = None, skip: Collection[date] = (),
    ) -> list[DayRun]:  # fmt: skip
        # The demo holds the warehouse while it runs and publishes the replica at its end.
        return backfill(self.settings, start, end, self.instance, assets, on_run, skip, False)
