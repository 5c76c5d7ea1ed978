"""The Dagster pipeline's definitions: daily-partitioned assets over the warehouse (one module
per group: sources, daily, forecast), quality gates as blocking asset checks, a retrained
model per unit type, schedules and jobs.

Asset bodies are thin: each opens the warehouse and calls a domain function that replaces its
day in one transaction. Nothing is built at import; :func:`build_definitions` takes the
settings.
"""

from typing import Any

import dagster as dg

from taxinav.pipeline.assets.daily import daily_assets
from taxinav.pipeline.assets.forecast import unit_assets
from taxinav.pipeline.assets.sources import GROUP, source_assets
from taxinav.pipeline.resources import resource_for
from taxinav.settings import Settings

__all__ = ["CODE_VERSIONS", "GROUP", "build_definitions"]

# Bump when an asset's logic changes; Dagster shows stale partitions after a bump.
CODE_VERSIONS = {
    "landing": "1",
    "road_network": "1",
    "telemetry": "1",
    "trips": "1",
    "pickups": "1",
    "demand": "2",
    "features": "3",
    "forecasts": "2",
    "accuracy": "2",
    "model": "2",
}


def build_definitions(settings: Settings) -> dg.Definitions:
    """Every asset, check, job and schedule for these settings."""
    tz = settings.timezone
    part = dg.DailyPartitionsDefinition(
        start_date=settings.pipeline.first_day.isoformat(), timezone=tz, end_offset=0
    )
    landing, road_network = source_assets(CODE_VERSIONS)
    days = daily_assets(CODE_VERSIONS, part, landing, road_network)
    _, _, pickups, demand = days
    assets: list[Any] = [landing, road_network, *days]
    for unit in settings.pipeline.forecast_units:
        assets += unit_assets(unit, CODE_VERSIONS, part, demand, pickups)
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
