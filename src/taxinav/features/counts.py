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
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from taxinav.calendar import Day, local_midnight
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


def _bucket(slot_minutes: int, col: str) -> str:
    return f"time_bucket(INTERVAL '{slot_minutes} minutes', {col}, TIMESTAMPTZ '2000-01-01')"


def _h3_counts(
    con: duckdb.DuckDBPyConnection, graph: RoadGraph, res: int, slot_min: int, d: Day
) -> pa.Table:
    """Pickups (distinct trips) and vacant vehicles per H3 cell of the network and slot."""
    known = pa.array(network_cells(graph.mid_lat, graph.mid_lon, res), pa.string())
    parts = []
    for key, sql in (
        (
            "pickups",
            f"""SELECT trip_id AS k, pickup_lat AS lat, pickup_lon AS lon,
                        {_bucket(slot_min, "pickup_ts")} AS slot_start
                        FROM trips WHERE pickup_ts >= $1 AND pickup_ts < $2""",
        ),
        (
            "vacant",
            f"""SELECT vehicle_id AS k, lat, lon, {_bucket(slot_min, "ts")} AS slot_start
                       FROM telemetry WHERE NOT occupied AND ts >= $1 AND ts < $2""",
        ),
    ):
        t = con.sql(sql, params=[d.start, d.end]).to_arrow_table()
        cells = cells_of(t["lat"].to_numpy(), t["lon"].to_numpy(), res)
        t = t.append_column("unit_id", pa.array(cells, pa.string()))
        t = t.filter(pc.is_in(t["unit_id"], known))
        g = t.group_by(["unit_id", "slot_start"]).aggregate([("k", "count_distinct")])
        parts.append(g.rename_columns(["unit_id", "slot_start", key]))
    con.register("h3_pickups", parts[0])
    con.register("h3_vacant", parts[1])
    try:
        return con.sql("""
            SELECT 'h3' AS unit_type, unit_id, slot_start,
                   coalesce(p.pickups, 0)::BIGINT AS pickups,
                   coalesce(v.vacant, 0)::BIGINT AS vacant
            FROM h3_pickups p FULL JOIN h3_vacant v USING (unit_id, slot_start)
            ORDER BY unit_id, slot_start""").to_arrow_table()
    finally:
        con.unregister("h3_pickups")
        con.unregister("h3_vacant")


def _road_counts(con: duckdb.DuckDBPyConnection, slot_min: int, d: Day) -> pa.Table:
    """Matched pickups per road segment and slot (vacant supply on roads needs the map-matched
    spells, a separate whole-period step; it is 0 here)."""
    return con.sql(
        f"""
        SELECT 'road' AS unit_type, segment_id::VARCHAR AS unit_id,
               {_bucket(slot_min, "ts")} AS slot_start,
               count(*)::BIGINT AS pickups, 0::BIGINT AS vacant
        FROM trip_end_matches
        WHERE end_kind = 'pickup' AND status = 'matched' AND ts >= $1 AND ts < $2
        GROUP BY ALL ORDER BY unit_id, slot_start""",
        params=[d.start, d.end],
    ).to_arrow_table()


def demand_day(
    con: duckdb.DuckDBPyConnection, spec: CountSpec, graph: RoadGraph, d: Day
) -> dict[str, Any]:
    """Replace the day's ``demand_counts`` for h3 cells and road segments."""
    slot_min = spec.slotting.slot_minutes
    rows = pa.concat_tables(
        [
            _h3_counts(con, graph, spec.h3_resolution, slot_min, d).cast(_DEMAND_SCHEMA),
            _road_counts(con, slot_min, d).cast(_DEMAND_SCHEMA),
        ]
    )
    replace_rows(
        con, {"demand_counts": rows}, "slot_start >= ? AND slot_start < ?", [d.start, d.end]
    )
    out: dict[str, Any] = {}
    for unit in ("h3", "road"):
        mine = rows.filter(pc.equal(rows["unit_type"], unit))
        out[f"{unit}_pickups"] = int(np.sum(mine["pickups"].to_numpy()))
        out[f"{unit}_units"] = len(set(mine["unit_id"].to_pylist()))
    return out


_DEMAND_SCHEMA = pa.schema(
    [
        ("unit_type", pa.string()),
        ("unit_id", pa.string()),
        ("slot_start", pa.timestamp("us", tz="UTC")),
        ("pickups", pa.int64()),
        ("vacant", pa.int64()),
    ]
)
