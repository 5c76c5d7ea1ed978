"""Prometheus metrics of the running service (``GET /metrics``)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from taxinav.mlops.metrics import durations_path

if TYPE_CHECKING:
    from taxinav.serve.service import Service


def exposition(service: Service) -> bytes:
    """Ingest counters, data freshness, live realised errors, refresh and pipeline step
    durations and the champion version, in the Prometheus text format."""
    reg = CollectorRegistry()
    items = Gauge("taxinav_ingested_items", "Items received since start", ["kind", "outcome"],
                  registry=reg)  # fmt: skip
    for key, n in sorted(service.stats.items()):
        kind, _, outcome = key.partition("_")
        if kind in ("fixes", "rides") and outcome:
            items.labels(kind, outcome).set(n)
    Gauge("taxinav_data_freshness_seconds", "Seconds since the last accepted fix",
          registry=reg).set(time.time() - service.ingestion.last_ingest)  # fmt: skip
    if service.live is not None and service.live.clock is not None:
        Gauge("taxinav_data_newest_fix_timestamp_seconds", "Time of the newest fix",
              registry=reg).set(service.live.clock.timestamp())  # fmt: skip
        Gauge("taxinav_live_vehicles", "Vehicles known to the live state",
              registry=reg).set(len(service.live.vehicles))  # fmt: skip
        late = Gauge("taxinav_late_fixes", "Fixes older than the state they would change: "
                     "behind their vehicle (trips) or behind sealed supply slots (supply)",
                     ["part"], registry=reg)  # fmt: skip
        late.labels("trips").set(service.live.late)
        late.labels("supply").set(service.live.late_supply)
    err = Gauge("taxinav_forecast_realised_rmse", "Realised RMSE of the latest scored live "
                "forecast (pickups over the horizon per H3 cell)", ["model"],
                registry=reg)  # fmt: skip
    if service.refresher.scores:
        last = service.refresher.scores[-1]
        err.labels("champion").set(last.champion_rmse)
        err.labels("base").set(last.base_rmse)
    if service.snapshot.seconds is not None:
        Gauge("taxinav_refresh_duration_seconds", "Latest forecast + plan refresh",
              registry=reg).set(service.snapshot.seconds)  # fmt: skip
    steps = Gauge("taxinav_pipeline_step_duration_seconds", "Latest duration of a pipeline "
                  "step", ["step"], registry=reg)  # fmt: skip
    path = durations_path(service.settings.home)
    for step, seconds in sorted((json.loads(path.read_text()) if path.exists() else {}).items()):
        steps.labels(step).set(float(seconds))
    version = Gauge("taxinav_model_champion_version", "Champion version", ["unit_type"],
                    registry=reg)  # fmt: skip
    if service.ctx is not None and service.ctx.champion is not None:
        version.labels("h3").set(float(service.ctx.champion[0]))
    return bytes(generate_latest(reg))
