"""Inputs of the feature expression, from the warehouse (road, h3) or a counts file."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import duckdb
import h3
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from taxinav.calendar import local_midnight, slot_table
from taxinav.features.neighbors import grid_rings, h3_rings, nearest_rings, road_hops
from taxinav.features.slots import DEFAULT_SLOTTING, Slotting
from taxinav.roads import read_graph

UnitType = Literal["road", "h3"]
COUNT_SCHEMA = pa.schema([("unit_id", pa.string()), ("slot", pa.int64()), ("n", pa.int64())])
SUPPLY_SCHEMA = pa.schema(
    [("unit_id", pa.string()), ("slot", pa.int64()), ("vehicles", pa.int64())]
)


@dataclass(frozen=True)
class DemandInputs:
    """Everything :func:`build_features` needs, as Arrow tables."""

    unit_type: str
    units: pa.Table  # unit_id, lat, lon
    slots: pa.Table
    counts: pa.Table  # COUNT_SCHEMA
    supply: pa.Table  # SUPPLY_SCHEMA (empty when unknown)
    neighbors: pa.Table
    origin: datetime
    slotting: Slotting
    tz: ZoneInfo

    @property
    def slot_minutes(self) -> int:
        return self.slotting.slot_minutes

    @property
    def n_slots(self) -> int:
        return int(self.slots.num_rows)

    def slot_at(self, when: datetime) -> int:
        """Index of the slot starting at or containing ``when``."""
        return self.slotting.index(when, self.origin)


def data_period(
    con: duckdb.DuckDBPyConnection, tz: ZoneInfo, slot_minutes: int = 10
) -> tuple[datetime, int]:
    """Local midnight of the first telemetry day, and how many slots reach the last fix."""
    lo, hi = con.execute("SELECT min(ts), max(ts) FROM telemetry").fetchall()[0]
    if lo is None:
        raise LookupError("no telemetry in the warehouse; run `taxinav ingest` first")
    origin = local_midnight(lo.astimezone(tz).date(), tz)
    n = math.floor((hi - origin).total_seconds() / (60 * slot_minutes)) + 1
    return origin, n


def _slot_sql(origin: datetime, slot_minutes: int, col: str = "ts") -> str:
    return f"floor((epoch({col}) - {origin.timestamp()}) / {60 * slot_minutes})::BIGINT"


def cells_of(lat: np.ndarray, lon: np.ndarray, res: int) -> np.ndarray:
    """H3 cell per point, of its location rounded to 1e-5 degrees (~1 m): a pure function of
    the point (see :func:`cell_of`), computed once per distinct rounded location."""
    ilat = np.rint(np.asarray(lat, dtype=np.float64) * 1e5).astype(np.int64)
    ilon = np.rint(np.asarray(lon, dtype=np.float64) * 1e5).astype(np.int64)
    keys = ilat * 100_000_000 + (ilon + 20_000_000)
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    cells = np.array(
        [h3.latlng_to_cell(ilat[i] / 1e5, ilon[i] / 1e5, res) for i in first], dtype=object
    )
    return cells[inverse] if uniq.size else np.array([], dtype=object)


def cell_of(lat: float, lon: float, res: int) -> str:
    """The cell :func:`cells_of` gives one point (used by the live stream)."""
    ilat, ilon = int(np.rint(lat * 1e5)), int(np.rint(lon * 1e5))
    return str(h3.latlng_to_cell(ilat / 1e5, ilon / 1e5, res))


def network_cells(lat: np.ndarray, lon: np.ndarray, resolution: int) -> list[str]:
    """The sorted H3 cells holding the midpoints of the road segments: the h3 units."""
    return sorted({h3.latlng_to_cell(a, b, resolution) for a, b in zip(lat, lon, strict=True)})


def road_inputs(
    con: duckdb.DuckDBPyConnection, tz: ZoneInfo, slotting: Slotting = DEFAULT_SLOTTING
) -> DemandInputs:
    """Units are directed road segments; pickups and vacant vehicles come map-matched."""
    slot_minutes = slotting.slot_minutes
    graph = read_graph(con)
    origin, n_slots = data_period(con, tz, slot_minutes)
    counts = con.sql(f"""
        SELECT segment_id::VARCHAR AS unit_id, {_slot_sql(origin, slot_minutes)} AS slot,
               count(*)::BIGINT AS n
        FROM trip_end_matches WHERE end_kind = 'pickup' AND status = 'matched'
        GROUP BY ALL HAVING slot >= 0 AND slot < {n_slots}""").to_arrow_table()
    supply = con.sql(f"""
        SELECT segment_id::VARCHAR AS unit_id, {_slot_sql(origin, slot_minutes)} AS slot,
               count(DISTINCT vehicle_id)::BIGINT AS vehicles
        FROM spell_paths GROUP BY ALL HAVING slot >= 0 AND slot < {n_slots}""").to_arrow_table()
    units = pa.table(
        {
            "unit_id": [str(i) for i in range(graph.n_segments)],
            "lat": graph.mid_lat,
            "lon": graph.mid_lon,
        }
    )
    return DemandInputs(
        "road", units, slot_table(origin, n_slots, slot_minutes, tz),
        counts.cast(COUNT_SCHEMA), supply.cast(SUPPLY_SCHEMA),
        road_hops(graph.succ_indptr, graph.succ_indices), origin, slotting, tz,
    )  # fmt: skip


def h3_inputs(
    con: duckdb.DuckDBPyConnection, tz: ZoneInfo, resolution: int = 8,
    slotting: Slotting = DEFAULT_SLOTTING,
) -> DemandInputs:  # fmt: skip
    """Units are the H3 cells covering the road network; all pickups inside them count."""
    slot_minutes = slotting.slot_minutes
    graph = read_graph(con)
    origin, n_slots = data_period(con, tz, slot_minutes)
    cells = network_cells(graph.mid_lat, graph.mid_lon, resolution)
    known = pa.array(cells, pa.string())
    bounds = [
        float(graph.shape_lat.min()) - 0.01,
        float(graph.shape_lat.max()) + 0.01,
        float(graph.shape_lon.min()) - 0.01,
        float(graph.shape_lon.max()) + 0.01,
    ]

    def by_cell(sql: str, value: str) -> pa.Table:
        t = con.sql(sql, params=bounds).to_arrow_table()
        lat = t.column("lat").to_numpy()
        lon = t.column("lon").to_numpy()
        t = t.append_column("unit_id", pa.array(cells_of(lat, lon, resolution), pa.string()))
        t = t.filter(pc.is_in(t.column("unit_id"), known))
        return t.group_by(["unit_id", "slot"]).aggregate([(value, "count_distinct")])

    pickups = by_cell(
        f"""
        SELECT trip_id, pickup_lat AS lat, pickup_lon AS lon,
               {_slot_sql(origin, slot_minutes, "pickup_ts")} AS slot
        FROM trips WHERE pickup_lat BETWEEN $1 AND $2 AND pickup_lon BETWEEN $3 AND $4""",
        "trip_id",
    )
    vacant = by_cell(
        f"""
        SELECT vehicle_id, lat, lon, {_slot_sql(origin, slot_minutes)} AS slot
        FROM telemetry WHERE NOT occupied
          AND lat BETWEEN $1 AND $2 AND lon BETWEEN $3 AND $4""",
        "vehicle_id",
    )
    counts = pickups.rename_columns(["unit_id", "slot", "n"]).select(["unit_id", "slot", "n"])
    supply = vacant.rename_columns(["unit_id", "slot", "vehicles"]).select(
        ["unit_id", "slot", "vehicles"]
    )

    def in_period(t: pa.Table) -> pa.Table:
        return t.filter(pc.and_(pc.greater_equal(t["slot"], 0), pc.less(t["slot"], n_slots)))

    centers = [h3.cell_to_latlng(c) for c in cells]
    units = pa.table(
        {"unit_id": cells, "lat": [c[0] for c in centers], "lon": [c[1] for c in centers]}
    )
    return DemandInputs(
        "h3", units, slot_table(origin, n_slots, slot_minutes, tz),
        in_period(counts).cast(COUNT_SCHEMA), in_period(supply).cast(SUPPLY_SCHEMA),
        h3_rings(cells), origin, slotting, tz,
    )  # fmt: skip


def counts_file_inputs(
    path: Path, tz: ZoneInfo, horizon_min: float = 30, slot_minutes: int | None = None
) -> DemandInputs:
    """A pre-aggregated counts table: ``unit_id, slot_start, count`` plus optional
    ``lat, lon`` or ``row, col`` for neighbours. Missing (unit, slot) rows mean zero.

    The slot length is the file's (the smallest gap between slot starts) unless given; the
    forecast horizon stays ``horizon_min`` minutes, so it must be a whole number of slots."""
    table = pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path)
    missing = {"unit_id", "slot_start", "count"} - set(table.column_names)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
    starts = table.column("slot_start")
    if not pa.types.is_timestamp(starts.type):
        starts = pc.cast(starts, pa.timestamp("us", tz="UTC"))
    elif starts.type.tz is None:
        starts = pc.assume_timezone(starts, tz.key)
    epoch = np.asarray(pc.cast(pc.cast(starts, pa.timestamp("us", tz="UTC")), pa.int64())) / 1e6
    if slot_minutes is None:
        gaps = np.diff(np.unique(epoch))
        slot_minutes = int(round(float(gaps[gaps > 0].min()) / 60)) if gaps.size else 10
    try:
        slotting = Slotting.of(slot_minutes, horizon_min)
    except ValueError as exc:
        raise ValueError(f"{path}: {slot_minutes}-minute slots: {exc}") from exc
    first = datetime.fromtimestamp(float(epoch.min()), UTC)
    origin = local_midnight(first.astimezone(tz).date(), tz)
    slot = np.floor((epoch - origin.timestamp()) / (60 * slot_minutes)).astype(np.int64)
    unit_ids = pc.cast(table.column("unit_id"), pa.string())
    counts = pa.table(
        {"unit_id": unit_ids, "slot": slot, "n": pc.cast(table.column("count"), pa.int64())}
    )
    counts = (
        counts.group_by(["unit_id", "slot"])
        .aggregate([("n", "sum")])
        .rename_columns(["unit_id", "slot", "n"])
    )
    first_rows = table.group_by("unit_id").aggregate(
        [(c, "min") for c in ("lat", "lon", "row", "col") if c in table.column_names]
    )
    ids = [str(u) for u in first_rows.column("unit_id").to_pylist()]
    names = set(table.column_names)
    if {"row", "col"} <= names:
        nbrs = grid_rings(ids, first_rows["row_min"].to_numpy(), first_rows["col_min"].to_numpy())
        lat = first_rows["row_min"].to_numpy().astype(float)
        lon = first_rows["col_min"].to_numpy().astype(float)
    elif {"lat", "lon"} <= names:
        lat, lon = first_rows["lat_min"].to_numpy(), first_rows["lon_min"].to_numpy()
        nbrs = nearest_rings(ids, lat, lon)
    else:
        nbrs = grid_rings([], np.array([]), np.array([]))
        lat = lon = np.zeros(len(ids))
    n_slots = int(slot.max()) + 1
    return DemandInputs(
        "counts", pa.table({"unit_id": ids, "lat": lat, "lon": lon}),
        slot_table(origin, n_slots, slot_minutes, tz), counts.cast(COUNT_SCHEMA),
        SUPPLY_SCHEMA.empty_table(), nbrs, origin, slotting, tz,
    )  # fmt: skip
