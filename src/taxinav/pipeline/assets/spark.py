"""The daily counts and features on Spark (``TAXINAV_ENGINE=spark``): DuckDB writes the day's
events to the lake, Spark counts and builds the features there, DuckDB loads the rows. The
warehouse is held only while DuckDB works, never during the Spark job."""

from typing import Any

from taxinav import roads
from taxinav.calendar import Day
from taxinav.features.counts import CountSpec
from taxinav.features.lake_days import (
    count_day,
    ensure_counts,
    export_events,
    feature_day,
    load_counts,
    load_features,
)
from taxinav.pipeline.resources import spark_backend, warehouse
from taxinav.settings import Settings


def lake_demand_day(s: Settings, spec: CountSpec, d: Day) -> dict[str, Any]:
    with warehouse(s, "demand") as con:
        events = export_events(con, roads.read_graph(con), spec, d, s.lake_dir)
    with spark_backend(s) as backend:
        count_day(backend, s.lake_dir, spec, d)
    with warehouse(s, "demand") as con:
        out = load_counts(con, s.lake_dir, d)
    return {**out, "engine": "spark", "events": events}


def lake_features_day(s: Settings, spec: CountSpec, unit: str, d: Day) -> dict[str, Any]:
    with warehouse(s, f"features_{unit}") as con:
        graph = roads.read_graph(con)
        backfilled = ensure_counts(con, s.lake_dir, spec, d)
    with spark_backend(s) as backend:
        feature_day(backend, s.lake_dir, spec, graph, unit, d)
    with warehouse(s, f"features_{unit}") as con:
        out = load_features(con, s.lake_dir, unit, d)
    return {**out, "engine": "spark", "counts_days_backfilled": len(backfilled)}
