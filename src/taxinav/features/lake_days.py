"""A local day's demand counts and features on any Ibis backend — Spark when one machine is
not enough — through the lake (``warehouse.lake``): the same expressions as the embedded path
(``counts.demand_day``, ``forecast.daily.features_day``), the same rows.

The steps of day ``d`` and where they run:

1. :func:`export_events` (DuckDB, beside the warehouse): the day's unit events — each pickup
   and vacant fix in its H3 cell, each map-matched pickup on its segment — to ``events/day=d``.
2. :func:`count_day` (the engine): ``count_demand`` of them to ``demand_counts/day=d``.
3. :func:`load_counts` (DuckDB): those rows replace the day's ``demand_counts``.
4. :func:`ensure_counts` (DuckDB): counts of the earlier days a day's features look back on,
   written to the lake from the warehouse where the lake lacks them (days counted before the
   engine was switched).
5. :func:`feature_day` (the engine): ``build_features`` over the counts from the lake to
   ``unit_features/unit_type=u/day=d``.
6. :func:`load_features` (DuckDB): those rows replace the day's ``unit_features``.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
import numpy as np
import pyarrow as pa
from ibis.expr.types import Table

from taxinav.calendar import Day
from taxinav.features.counts import DEMAND_SCHEMA, CountSpec, day_events, inputs_from_counts
from taxinav.features.expressions import FEATURES, build_features, count_demand
from taxinav.roads import RoadGraph
from taxinav.warehouse import replace_rows
from taxinav.warehouse.lake import has_partition, partition_dir, read_partition, write_partition

FEATURE_SCHEMA = pa.schema(
    [
        ("unit_type", pa.string()),
        ("unit_id", pa.string()),
        ("slot_start", pa.timestamp("us", tz="UTC")),
        ("y", pa.float64()),
        ("y_complete", pa.int32()),
        ("x", pa.list_(pa.float64())),
    ]
)
_DAY = "slot_start >= ? AND slot_start < ?"


def export_events(
    con: duckdb.DuckDBPyConnection, graph: RoadGraph, spec: CountSpec, d: Day, lake: Path
) -> int:
    """Write the day's unit events to the lake; their count."""
    rows = day_events(con, graph, spec.h3_resolution, d)
    write_partition(partition_dir(lake, "events", d.day), rows)
    return int(rows.num_rows)


def count_day(backend: Any, lake: Path, spec: CountSpec, d: Day) -> None:
    """Demand counts of the day's events, computed by ``backend``, to the lake."""
    events = _read(backend, partition_dir(lake, "events", d.day))
    _write(backend, count_demand(events, spec.slotting.slot_s), partition_dir(
        lake, "demand_counts", d.day))  # fmt: skip


def load_counts(con: duckdb.DuckDBPyConnection, lake: Path, d: Day) -> dict[str, Any]:
    """Replace the day's ``demand_counts`` with the lake's; what ``demand_day`` reports."""
    rows = _timestamps_utc(read_partition(con, partition_dir(lake, "demand_counts", d.day)))
    rows = rows.select(DEMAND_SCHEMA.names).cast(DEMAND_SCHEMA)
    rows = rows.sort_by([("unit_type", "ascending"), ("unit_id", "ascending"),
                         ("slot_start", "ascending")])  # fmt: skip
    replace_rows(con, {"demand_counts": rows}, _DAY, [d.start, d.end])
    out: dict[str, Any] = {}
    for unit in ("h3", "road"):
        mine = rows.filter(pa.compute.equal(rows["unit_type"], unit))
        out[f"{unit}_pickups"] = int(np.sum(mine["pickups"].to_numpy()))
        out[f"{unit}_units"] = len(set(mine["unit_id"].to_pylist()))
    return out


def history_days(spec: CountSpec, d: Day) -> list[date]:
    """The local days whose counts the features of ``d`` read, ``d`` included."""
    first = spec.history_start(d.end).astimezone(spec.tz).date()
    return [first + timedelta(days=k) for k in range((d.day - first).days + 1)]


def ensure_counts(
    con: duckdb.DuckDBPyConnection, lake: Path, spec: CountSpec, d: Day
) -> list[date]:
    """Write to the lake, from the warehouse, the counts of the days ``d``'s features read that
    the lake lacks; the days written."""
    written = []
    for day in history_days(spec, d):
        path = partition_dir(lake, "demand_counts", day)
        if has_partition(path):
            continue
        span = Day.of(day, spec.tz)
        rows = con.sql(
            f"SELECT * FROM demand_counts WHERE {_DAY} ORDER BY unit_type, unit_id, slot_start",
            params=[span.start, span.end],
        ).to_arrow_table()
        write_partition(path, rows.cast(DEMAND_SCHEMA))
        written.append(day)
    return written


def feature_day(
    backend: Any, lake: Path, spec: CountSpec, graph: RoadGraph, unit: str, d: Day
) -> None:
    """Features of every ``unit`` × slot of the day, computed by ``backend`` from the lake's
    counts of the day and the days before it (:func:`history_days`), to the lake."""
    parts = []
    for day in history_days(spec, d):
        path = partition_dir(lake, "demand_counts", day)
        if not has_partition(path):
            raise LookupError(f"no demand counts of {day} in the lake ({path}); count it first")
        parts.append(_read(backend, path))
    counts = ibis.union(*parts) if len(parts) > 1 else parts[0]
    origin = spec.history_start(d.end)
    dims = inputs_from_counts(spec, graph, unit, DEMAND_SCHEMA.empty_table(), d.end)
    step, t0 = spec.slotting.slot_s, int(origin.timestamp())
    mine = counts.filter(
        (counts.unit_type == unit)
        & (counts.slot_start.epoch_seconds() >= t0)
        & (counts.slot_start.epoch_seconds() < int(d.end.timestamp()))
    )
    mine = mine.mutate(slot=((mine.slot_start.epoch_seconds() - t0) // step).cast("int64"))
    expr = build_features(
        ibis.memtable(dims.units.select(["unit_id"])),
        ibis.memtable(dims.slots),
        mine.select("unit_id", "slot", n=mine.pickups),
        mine.select("unit_id", "slot", vehicles=mine.vacant),
        ibis.memtable(dims.neighbors),
        spec.slotting,
    )
    day = expr.filter(expr.slot >= dims.slot_at(d.start))
    rows = day.select(
        unit_type=ibis.literal(unit),
        unit_id=day.unit_id,
        slot_start=(day.slot * step + t0).as_timestamp("s"),
        y=day.y.cast("float64"),
        y_complete=day.y_complete.cast("int32"),
        x=ibis.array([day[c].cast("float64") for c in FEATURES]),
    )
    _write(backend, rows, partition_dir(lake, "unit_features", d.day, unit))


def load_features(con: duckdb.DuckDBPyConnection, lake: Path, unit: str, d: Day) -> dict[str, Any]:
    """Replace the day's ``unit_features`` of ``unit`` with the lake's; what ``features_day``
    reports (every unit has a row in every slot)."""
    rows = read_partition(con, partition_dir(lake, "unit_features", d.day, unit))
    rows = _timestamps_utc(rows).select(FEATURE_SCHEMA.names).cast(FEATURE_SCHEMA)
    rows = rows.sort_by([("slot_start", "ascending"), ("unit_id", "ascending")])
    replace_rows(con, {"unit_features": rows}, f"unit_type = ? AND {_DAY}", [unit, d.start, d.end])
    complete = int(np.sum(rows["y_complete"].to_numpy()))
    units = pa.compute.count_distinct(rows["unit_id"]).as_py()
    return {"rows": rows.num_rows, "units": units, "complete_y": complete}


def _read(backend: Any, path: Path) -> Table:
    return backend.read_parquet(str(path / "*.parquet"))


def _write(backend: Any, expr: Table, path: Path) -> None:
    """Replace the partition at ``path`` with the rows of ``expr``: written by Spark's own
    committer (several files), or by us from the backend's Arrow result (one file)."""
    if backend.name == "pyspark":
        backend.to_parquet(expr, path, mode="overwrite")
    else:
        write_partition(path, backend.to_pyarrow(expr))


def _timestamps_utc(rows: pa.Table) -> pa.Table:
    """``slot_start`` as a UTC instant: an engine writes it with or without a zone."""
    col = rows["slot_start"]
    if pa.types.is_timestamp(col.type) and col.type.tz is None:
        col = col.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
    return rows.set_column(rows.schema.get_field_index("slot_start"), "slot_start", col)
