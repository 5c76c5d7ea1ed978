"""Demand counts — pickups and vacant taxis per unit (H3 cell, road segment) and slot — and
the feature inputs built from them: one definition for the daily pipeline, the live service
and the backtests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import duckdb
import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from taxinav.calendar import Day, local_midnight
from taxinav.features.expressions import count_demand
from taxinav.features.online import unit_inputs
from taxinav.features.slots import HISTORY_DAYS, Slotting
from taxinav.features.sources import (
    DemandInputs,
    cells_of,
    counts_file_inputs,
    h3_inputs,
    network_cells,
    road_inputs,
)
from taxinav.roads import RoadGraph
from taxinav.warehouse import replace_rows


class _ForecastSection(Protocol):
    slot_minutes: int
    horizon_min: int
    h3_resolution: int


class _PipelineSection(Protocol):
    first_day: date


class _Config(Protocol):
    """The settings a count needs (``taxinav.settings.Settings`` has them)."""

    @property
    def forecast(self) -> _ForecastSection: ...
    @property
    def pipeline(self) -> _PipelineSection: ...
    @property
    def tz(self) -> ZoneInfo: ...


@dataclass(frozen=True)
class CountSpec:
    """Where and when demand is counted."""

    origin: datetime  # the first partition's local midnight, as a UTC instant: slot 0
    slotting: Slotting
    h3_resolution: int  # H3 resolution of the operator's cells
    tz: ZoneInfo  # the fleet's city

    def history_start(self, end: datetime) -> datetime:
        """The first instant the features of the local day ending at ``end`` look back on:
        local midnight ``HISTORY_DAYS`` + 1 days before that day (the extra day covers a
        daylight-saving shift), or the first partition's."""
        last_day = (end - timedelta(microseconds=1)).astimezone(self.tz).date()
        start = local_midnight(last_day - timedelta(days=HISTORY_DAYS + 1), self.tz)
        return max(self.origin, start)

    @classmethod
    def of(cls, settings: _Config) -> CountSpec:
        f = settings.forecast
        return cls(
            local_midnight(settings.pipeline.first_day, settings.tz),
            Slotting.of_forecast(f),
            f.h3_resolution,
            settings.tz,
        )


def stored_inputs(
    con: duckdb.DuckDBPyConnection, spec: CountSpec, graph: RoadGraph, unit: str, d: Day
) -> DemandInputs:
    """Feature inputs from ``demand_counts`` for day ``d``: the day and the history its
    features look back on (``CountSpec.history_start``)."""
    counts = con.sql(
        """SELECT unit_id, slot_start, pickups, vacant FROM demand_counts
           WHERE unit_type = $u AND slot_start >= $o AND slot_start < $e""",
        params={"u": unit, "o": spec.history_start(d.end), "e": d.end},
    ).to_arrow_table()
    return inputs_from_counts(spec, graph, unit, counts, d.end)


def inputs_from_counts(
    spec: CountSpec, graph: RoadGraph, unit: str, counts: pa.Table, end: datetime
) -> DemandInputs:
    """Feature inputs from counts (unit_id, slot_start, pickups, vacant) for the slots from
    ``spec.history_start(end)`` up to ``end`` — the pipeline's and the live service's."""
    return unit_inputs(graph, unit, counts, spec.history_start(end), end, spec.slotting,
                       spec.h3_resolution, spec.tz)  # fmt: skip


def demand_inputs(
    con: duckdb.DuckDBPyConnection, spec: CountSpec, unit: str, counts: Path | None = None
) -> DemandInputs:
    """Feature inputs of a whole period: a counts file, or the warehouse's trips per unit."""
    if counts is not None:
        return counts_file_inputs(counts, spec.tz, spec.slotting.horizon_min)
    if unit == "road":
        return road_inputs(con, spec.tz, spec.slotting)
    if unit == "h3":
        return h3_inputs(con, spec.tz, spec.h3_resolution, spec.slotting)
    raise ValueError(f"unknown unit type {unit!r}; use road or h3")


def day_events(
    con: duckdb.DuckDBPyConnection, graph: RoadGraph, h3_resolution: int, d: Day
) -> pa.Table:
    """The day's unit events (``EVENT_SCHEMA``) that demand counts are made of: each trip's
    pickup and each vacant fix in the H3 cell of the network holding it, and each pickup
    map-matched to a road segment (vacant supply on roads needs the map-matched spells, a
    separate whole-period step; roads count none)."""
    known = pa.array(network_cells(graph.mid_lat, graph.mid_lon, h3_resolution), pa.string())
    parts = []
    for kind, sql in (
        ("pickup", "SELECT trip_id AS key, pickup_lat AS lat, pickup_lon AS lon, pickup_ts AS ts "
                   "FROM trips WHERE pickup_ts >= $1 AND pickup_ts < $2"),
        ("vacant", "SELECT vehicle_id AS key, lat, lon, ts "
                   "FROM telemetry WHERE NOT occupied AND ts >= $1 AND ts < $2"),
    ):  # fmt: skip
        t = con.sql(sql, params=[d.start, d.end]).to_arrow_table()
        cells = pa.array(cells_of(t["lat"].to_numpy(), t["lon"].to_numpy(), h3_resolution))
        n = t.num_rows
        part = pa.table(
            {"unit_type": pa.array(["h3"] * n), "unit_id": cells.cast(pa.string()),
             "kind": pa.array([kind] * n), "key": t["key"], "ts": t["ts"]}
        )  # fmt: skip
        parts.append(part.filter(pc.is_in(part["unit_id"], known)).cast(EVENT_SCHEMA))
    road = con.sql(
        """SELECT 'road' AS unit_type, segment_id::VARCHAR AS unit_id, 'pickup' AS kind,
                  trip_id AS key, ts
           FROM trip_end_matches
           WHERE end_kind = 'pickup' AND status = 'matched' AND ts >= $1 AND ts < $2""",
        params=[d.start, d.end],
    ).to_arrow_table()
    parts.append(road.cast(EVENT_SCHEMA))
    return pa.concat_tables(parts)


def counts_of(events: pa.Table, slot_s: int) -> pa.Table:
    """``count_demand`` of Arrow events, run on DuckDB (``DEMAND_SCHEMA``, ordered)."""
    expr = count_demand(ibis.memtable(events, schema=ibis.schema(EVENT_SCHEMA)), slot_s)
    expr = expr.order_by(["unit_type", "unit_id", "slot_start"])
    return ibis.duckdb.connect().to_pyarrow(expr).cast(DEMAND_SCHEMA)


def demand_day(
    con: duckdb.DuckDBPyConnection, spec: CountSpec, graph: RoadGraph, d: Day
) -> dict[str, Any]:
    """Replace the day's ``demand_counts`` for h3 cells and road segments."""
    rows = counts_of(day_events(con, graph, spec.h3_resolution, d), spec.slotting.slot_s)
    replace_rows(
        con, {"demand_counts": rows}, "slot_start >= ? AND slot_start < ?", [d.start, d.end]
    )
    out: dict[str, Any] = {}
    for unit in ("h3", "road"):
        mine = rows.filter(pc.equal(rows["unit_type"], unit))
        out[f"{unit}_pickups"] = int(np.sum(mine["pickups"].to_numpy()))
        out[f"{unit}_units"] = len(set(mine["unit_id"].to_pylist()))
    return out


DEMAND_SCHEMA = pa.schema(
    [
        ("unit_type", pa.string()),
        ("unit_id", pa.string()),
        ("slot_start", pa.timestamp("us", tz="UTC")),
        ("pickups", pa.int64()),
        ("vacant", pa.int64()),
    ]
)
EVENT_SCHEMA = pa.schema(
    [
        ("unit_type", pa.string()),
        ("unit_id", pa.string()),
        ("kind", pa.string()),  # pickup | vacant
        ("key", pa.string()),  # the trip (pickup) or the vehicle (vacant)
        ("ts", pa.timestamp("us", tz="UTC")),
    ]
)
