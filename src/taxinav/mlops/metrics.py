"""Prometheus metrics of the pipeline and the models, rebuilt from what is stored.

Every gauge is computed from the warehouse, the registry and the step-duration log, so any
process (a pipeline run, the API's ``/metrics``) exposes the same numbers. Pipeline runs also
write them to ``<home>/metrics/taxinav.prom`` for a node-exporter textfile collector.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from prometheus_client import CollectorRegistry, Gauge, generate_latest, write_to_textfile


def durations_path(home: Path) -> Path:
    return home / "metrics" / "step_durations.json"


def record_duration(home: Path, step: str, seconds: float) -> None:
    """Remember the latest duration of a pipeline step (asset)."""
    path = durations_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    known = json.loads(path.read_text()) if path.exists() else {}
    known[step] = round(float(seconds), 3)
    path.write_text(json.dumps(known, indent=1, sort_keys=True))


def build_registry(
    con: duckdb.DuckDBPyConnection,
    home: Path,
    champions: dict[str, str | None],
    now: datetime | None = None,
) -> CollectorRegistry:
    """Gauges: realised errors of the latest evaluated hour per unit type and model, labelled
    ``in_sample`` ("true" when the model had trained on that hour's day, "unknown" when not
    recorded), data freshness, latest step durations and the champion version per unit
    type."""
    reg = CollectorRegistry()
    err = Gauge(
        "taxinav_forecast_realised_error",
        "Realised error of served forecasts in the latest evaluated hour; in_sample=true: the "
        "model had trained on that day (not a measure of serving accuracy)",
        ["unit_type", "model", "metric", "in_sample"],
        registry=reg,
    )
    rows = con.execute("""
        SELECT unit_type, model, rmse, mae, masked_mape, in_sample FROM forecast_accuracy
        QUALIFY hour_start = max(hour_start) OVER (PARTITION BY unit_type, model)
        ORDER BY ALL""").fetchall()
    for unit, model, rmse, mae, mape, in_sample in rows:
        label = "unknown" if in_sample is None else str(bool(in_sample)).lower()
        for metric, value in (("rmse", rmse), ("mae", mae), ("masked_mape", mape)):
            if value is not None:
                err.labels(unit, model, metric, label).set(float(value))
    last = con.execute("SELECT max(ts) FROM telemetry").fetchall()[0][0]
    fresh = Gauge(
        "taxinav_data_freshness_seconds", "Seconds since the newest telemetry fix", registry=reg
    )
    newest = Gauge(
        "taxinav_data_newest_fix_timestamp_seconds", "Time of the newest fix", registry=reg
    )
    if last is not None:
        fresh.set(((now or datetime.now(UTC)) - last).total_seconds())
        newest.set(last.timestamp())
    dur = Gauge(
        "taxinav_pipeline_step_duration_seconds",
        "Latest duration of a pipeline step",
        ["step"],
        registry=reg,
    )
    path = durations_path(home)
    for step, seconds in sorted((json.loads(path.read_text()) if path.exists() else {}).items()):
        dur.labels(step).set(float(seconds))
    version = Gauge(
        "taxinav_model_champion_version",
        "Registered version serving as champion",
        ["unit_type"],
        registry=reg,
    )
    for unit, v in sorted(champions.items()):
        if v is not None:
            version.labels(unit).set(float(v))
    return reg


def exposition(reg: CollectorRegistry) -> bytes:
    """The Prometheus text format of ``reg`` (what ``/metrics`` returns)."""
    return bytes(generate_latest(reg))


def write_textfile(reg: CollectorRegistry, home: Path) -> Path:
    path = home / "metrics" / "taxinav.prom"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), reg)
    return path
