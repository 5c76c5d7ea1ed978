"""Running the Dagster pipeline in-process (no server): one day, a backfill, or a subset of
assets from a middle step, recorded in the instance under ``<home>/dagster`` so that
``taxinav pipeline ui`` shows every run."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import dagster as dg

from taxinav.pipeline.assets import CODE_VERSIONS, build_definitions
from taxinav.settings import Settings

SOURCES = ("landing", "road_network")
# A day's trips read the next day's telemetry, so a backfill loads all telemetry first.
FIRST_PHASE = ("telemetry",)


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
    config = home / "dagster.yaml"
    if not config.exists():
        # Telemetry off: nothing may leave this machine.
        config.write_text("telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.from_config(str(home))


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


def materialize(
    settings: Settings,
    assets: Sequence[str],
    day: date | None = None,
    instance: dg.DagsterInstance | None = None,
    log_level: str = "WARNING",
) -> DayRun:
    """Materialise ``assets`` (for ``day`` when they are partitioned) in one run."""
    if instance is None:  # a throw-away instance, cleaned up when the run is done
        with dg.DagsterInstance.ephemeral() as temporary:
            return materialize(settings, assets, day, temporary, log_level)
    defs = _definitions(settings.model_dump_json())
    started = time.perf_counter()
    result = dg.materialize(
        list(defs.assets or []),  # type: ignore[arg-type]
        instance=instance,
        resources=defs.resources,
        partition_key=day.isoformat() if day else None,
        selection=list(assets),
        raise_on_error=False,
        tags={"taxinav/source": "cli"},
        # Step-by-step debug lines would drown the progress bars; failures still print.
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    run = DayRun(
        day or date.min, list(assets), time.perf_counter() - started, result.success,
        _failed_checks(result), _metadata(result),
    )  # fmt: skip
    if not result.success and not run.failed_checks:
        raise RuntimeError(f"pipeline run for {day or 'sources'} failed: {_failure(result)}")
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
) -> list[DayRun]:
    """Every day in [start, end]: telemetry of all days first (trips read a day either side),
    then the rest of each day in order. ``assets`` restricts the run to a middle step and
    what follows it, without recomputing upstream."""
    chosen = list(assets) if assets else partitioned_assets(settings)
    runs = []
    blocked: set[date] = set()  # a failed quality gate stops the rest of that day
    phases = [[a for a in chosen if a in FIRST_PHASE], [a for a in chosen if a not in FIRST_PHASE]]
    for phase in phases:
        if not phase:
            continue
        for d in days_between(start, end):
            if d in blocked:
                continue
            run = materialize(settings, phase, d, instance)
            if run.failed_checks:
                blocked.add(d)
            runs.append(run)
            if on_run is not None:
                on_run(run)
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
        run = materialize(self.settings, [asset], None, self.instance)
        return {**run.metadata.get(asset, {}), "seconds": round(run.seconds, 1)}

    def backfill(
        self, start: date, end: date, assets: Sequence[str] | None = None,
        on_run: Callable[[DayRun], None] | None = None,
    ) -> list[DayRun]:  # fmt: skip
        return backfill(self.settings, start, end, self.instance, assets, on_run)
