"""One local day of the data pipeline: each function replaces its day's rows in one
transaction, so running it twice leaves byte-identical tables (the Dagster assets in
``pipeline/assets.py`` are thin wrappers around these).

Telemetry arrives in the *landing* store (files through ``ingest``, or the API); a day's
partition copies the day's validated fixes into the warehouse, derives the trips and vacant
spells that start that day, snaps their ends to road segments and counts demand per unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from taxinav import ingest
from taxinav.features.calendar import local_midnight
from taxinav.features.sources import cells_of, network_cells
from taxinav.pipeline.matching import snap_trip_ends
from taxinav.roads import RoadGraph
from taxinav.settings import Settings
from taxinav.warehouse import replace_rows


@dataclass(frozen=True)
class Day:
    """A local calendar day of the fleet's city and its bounds as UTC instants."""

    day: date
    start: datetime
    end: datetime

    @classmethod
    def of(cls, day: date, tz: ZoneInfo) -> Day:
        return cls(day, local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz))

    @classmethod
    def parse(cls, key: str, tz: ZoneInfo) -> Day:
        try:
            return cls.of(date.fromisoformat(key), tz)
        except ValueError as exc:
            raise ValueError(f"partition {key!r} is not a date (YYYY-MM-DD)") from exc


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> Any:
    row = con.execute(sql, params).fetchall()
    return row[0][0] if row else None


def telemetry_day(con: duckdb.DuckDBPyConnection, landing: Path, d: Day) -> dict[str, Any]:
    """Copy the day's validated fixes and quarantined rows from the landing store."""
    if not landing.exists():
        raise FileNotFoundError(f"no landing store at {landing}; run the landing step first")
    con.execute(f"ATTACH '{landing}' AS landing (READ_ONLY)")
    span = "ts >= ? AND ts < ?"
    try:
        con.begin()
        try:
            con.execute(f"DELETE FROM telemetry WHERE {span}", [d.start, d.end])
            con.execute(
                f"""INSERT INTO telemetry SELECT * FROM landing.telemetry
                            WHERE {span} ORDER BY vehicle_id, ts""",
                [d.start, d.end],
            )
            # Rows without a usable time (malformed lines) belong to no day: every
            # partition mirrors them, which keeps them counted and idempotent.
            con.execute(f"DELETE FROM quarantine WHERE ({span}) OR ts IS NULL", [d.start, d.end])
            con.execute(
                f"""INSERT INTO quarantine SELECT * FROM landing.quarantine
                            WHERE ({span}) OR ts IS NULL ORDER BY qkey""",
                [d.start, d.end],
            )
            con.commit()
        except Exception:
            con.rollback()
            raise
    finally:
        con.execute("DETACH landing")
    fixes, vehicles = con.execute(
        f"SELECT count(*), count(DISTINCT vehicle_id) FROM telemetry WHERE {span}",
        [d.start, d.end],
    ).fetchall()[0]
    reasons = con.execute(
        f"SELECT reason, count(*) FROM quarantine WHERE {span} GROUP BY ALL ORDER BY 1",
        [d.start, d.end],
    ).fetchall()
    return {
        "fixes": int(fixes),
        "vehicles": int(vehicles),
        "quarantined": {str(r): int(n) for r, n in reasons},
    }


def trips_day(con: duckdb.DuckDBPyConnection, settings: Settings, d: Day) -> dict[str, Any]:
    return ingest.derive_day(
        con,
        d.day,
        d.start,
        d.end,
        settings.ingest.gap_limit_min,
        settings.pipeline.context_hours,
    )


def pickups_day(
    con: duckdb.DuckDBPyConnection, settings: Settings, graph: RoadGraph, d: Day
) -> dict[str, Any]:
    return snap_trip_ends(
        con,
        graph,
        radius_m=settings.roads.match_radius_m,
        heading_weight_m=settings.roads.heading_weight_m,
        between=(d.start, d.end),
    )


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
    con: duckdb.DuckDBPyConnection, settings: Settings, graph: RoadGraph, d: Day
) -> dict[str, Any]:
    """Replace the day's ``demand_counts`` for h3 cells and road segments."""
    f = settings.forecast
    rows = pa.concat_tables(
        [
            _h3_counts(con, graph, f.h3_resolution, f.slot_minutes, d).cast(_DEMAND_SCHEMA),
            _road_counts(con, f.slot_minutes, d).cast(_DEMAND_SCHEMA),
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
