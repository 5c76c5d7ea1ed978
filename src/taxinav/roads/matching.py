"""Map matching of the warehouse's trips and vacant spells: trip ends snapped to segments,
vacant-spell GPS traces matched by Meili into road paths."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from taxinav.roads.graph import RoadGraph
from taxinav.roads.meili import Trace, match_traces
from taxinav.roads.paths import EdgeMapper, PathStep, assemble_path
from taxinav.roads.snap import SegmentIndex
from taxinav.warehouse import replace_rows


def _floats(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)


def snap_trip_ends(
    con: duckdb.DuckDBPyConnection, graph: RoadGraph, *, radius_m: float, heading_weight_m: float,
    between: tuple[datetime, datetime] | None = None,
) -> dict[str, int]:  # fmt: skip
    """Rebuild ``trip_end_matches``: every pickup and drop-off, matched or not — of every trip,
    or only of the trips picked up in ``between`` (with matches of vanished trips dropped)."""
    index = SegmentIndex(graph)
    parts = []
    which = "pickup_ts >= $1 AND pickup_ts < $2" if between else "true"
    params = list(between) if between else None
    for kind in ("pickup", "dropoff"):
        t = con.sql(
            f"""SELECT trip_id, vehicle_id, {kind}_ts AS ts, {kind}_lat AS lat,
                       {kind}_lon AS lon, {kind}_heading AS heading
                FROM trips WHERE {which} ORDER BY trip_id""",
            params=params,
        ).to_arrow_table()
        snap = index.snap(
            _floats(t, "lat"),
            _floats(t, "lon"),
            _floats(t, "heading"),
            radius_m=radius_m,
            heading_weight_m=heading_weight_m,
        )
        seg = pa.array(np.where(snap.matched, snap.segment, 0), pa.int32(), mask=~snap.matched)
        parts.append(
            pa.table(
                {
                    "trip_id": t.column("trip_id"),
                    "end_kind": pa.array([kind] * t.num_rows, pa.string()),
                    "vehicle_id": t.column("vehicle_id"),
                    "ts": t.column("ts"),
                    "segment_id": seg,
                    "distance_m": pa.array(snap.distance_m, mask=~snap.matched),
                    "offset_frac": pa.array(snap.offset_frac, mask=~snap.matched),
                    "status": pa.array(
                        np.where(snap.matched, "matched", "beyond_radius"), pa.string()
                    ),
                }
            )
        )
    stale = ("trip_id IN (SELECT trip_id FROM trips WHERE pickup_ts >= ? AND pickup_ts < ?) "
             "OR trip_id NOT IN (SELECT trip_id FROM trips)")  # fmt: skip
    replace_rows(con, {"trip_end_matches": pa.concat_tables(parts)}, stale if between else None,
                 list(params) if params else None)  # fmt: skip
    rows = con.execute(
        "SELECT end_kind || ':' || status, count(*) FROM trip_end_matches WHERE trip_id IN "
        f"(SELECT trip_id FROM trips WHERE {which}) GROUP BY ALL ORDER BY 1",
        params,
    ).fetchall()
    return {str(k): int(n) for k, n in rows}


@dataclass
class SpellTraces:
    """Vacant-spell fixes inside the network, cut into traces for the matcher."""

    traces: list[Trace] = field(default_factory=list)
    spell_of_trace: list[str] = field(default_factory=list)
    vehicle_of_spell: dict[str, str] = field(default_factory=dict)
    points_of_spell: dict[str, int] = field(default_factory=dict)
    off_road_points: int = 0


def spell_traces(
    con: duckdb.DuckDBPyConnection,
    graph: RoadGraph,
    *,
    max_points: int,
    road_radius_m: float,
    pad_deg: float = 0.001,
) -> SpellTraces:
    """Fixes of every vacant spell inside the graph's bounding box, split where the vehicle
    left the box, where a fix has no road within ``road_radius_m`` (Meili rejects a whole
    trace for one such point), or where a trace gets longer than ``max_points``."""
    bounds = [
        float(graph.shape_lat.min()) - pad_deg,
        float(graph.shape_lat.max()) + pad_deg,
        float(graph.shape_lon.min()) - pad_deg,
        float(graph.shape_lon.max()) + pad_deg,
    ]
    t = con.sql(
        """
        WITH joined AS (
            SELECT s.spell_id, s.vehicle_id, f.ts, f.lat, f.lon
            FROM telemetry f ASOF JOIN vacant_spells s
              ON f.vehicle_id = s.vehicle_id AND f.ts >= s.start_ts
            WHERE f.ts <= s.end_ts),
        numbered AS (
            SELECT *, row_number() OVER (PARTITION BY spell_id ORDER BY ts) AS k FROM joined)
        SELECT spell_id, vehicle_id, epoch(ts)::BIGINT AS t, lat, lon, k FROM numbered
        WHERE lat BETWEEN $1 AND $2 AND lon BETWEEN $3 AND $4
        ORDER BY spell_id, ts""",
        params=bounds,
    ).to_arrow_table()
    out = SpellTraces()
    if t.num_rows == 0:
        return out
    spell = t.column("spell_id").to_numpy(zero_copy_only=False)
    vehicle = t.column("vehicle_id").to_numpy(zero_copy_only=False)
    ts = t.column("t").to_numpy()
    lat, lon, k = _floats(t, "lat"), _floats(t, "lon"), t.column("k").to_numpy()
    on_road = SegmentIndex(graph).near(lat, lon, road_radius_m)
    out.off_road_points = int((~on_road).sum())
    ids, n_points = np.unique(spell, return_counts=True)
    out.points_of_spell = {str(i): int(n) for i, n in zip(ids, n_points, strict=True)}
    out.vehicle_of_spell = {str(i): str(v) for i, v in zip(spell, vehicle, strict=True)}
    spell, vehicle, ts, lat, lon, k = (a[on_road] for a in (spell, vehicle, ts, lat, lon, k))
    cut = np.r_[True, (spell[1:] != spell[:-1]) | (np.diff(k) != 1)]
    starts = np.flatnonzero(cut)
    ends = np.r_[starts[1:], len(spell)]
    for a, b in zip(starts, ends, strict=True):
        sid = str(spell[a])
        for c in range(a, b, max_points):
            d = min(c + max_points, b)
            out.traces.append(Trace(f"{sid}#{c}", lat[c:d], lon[c:d], ts[c:d]))
            out.spell_of_trace.append(sid)
    return out


def _rows(
    prepared: SpellTraces, results: Iterator[tuple[Trace, str, list[PathStep]]]
) -> tuple[pa.Table, pa.Table]:
    path_cols: dict[str, list[object]] = {
        k: [] for k in ("spell_id", "vehicle_id", "seq", "piece", "segment_id", "ts", "n_fixes")
    }
    # Spells never offered to the matcher (every fix far from a road) stay "off_road".
    status: dict[str, str] = dict.fromkeys(prepared.spell_of_trace, "too_few_points")
    seq: dict[str, int] = {}
    piece: dict[str, int] = {}
    for trace, result_status, steps in results:
        sid = trace.trace_id.split("#")[0]
        if steps:
            status[sid] = "matched"
        elif status[sid] != "matched":
            # Meili found a path, but only over ways our graph does not have.
            status[sid] = "off_graph" if result_status == "matched" else result_status
        for st in steps:
            path_cols["spell_id"].append(sid)
            path_cols["vehicle_id"].append(prepared.vehicle_of_spell[sid])
            path_cols["seq"].append(seq.get(sid, 0))
            path_cols["piece"].append(piece.get(sid, 0) + st.piece)
            path_cols["segment_id"].append(st.segment)
            path_cols["ts"].append(st.ts)
            path_cols["n_fixes"].append(st.n_fixes)
            seq[sid] = seq.get(sid, 0) + 1
        if steps:
            piece[sid] = piece.get(sid, 0) + steps[-1].piece + 1
    paths = pa.table(path_cols).set_column(
        5, "ts", pa.array(path_cols["ts"], pa.int64()).cast(pa.timestamp("s", tz="UTC"))
    )
    spells = sorted(prepared.points_of_spell)
    n_seg = dict.fromkeys(spells, 0)
    for s in path_cols["spell_id"]:
        n_seg[str(s)] += 1
    status_table = pa.table(
        {
            "spell_id": spells,
            "status": [status.get(s, "off_road") for s in spells],
            "n_points": [prepared.points_of_spell[s] for s in spells],
            "n_segments": [n_seg[s] for s in spells],
        }
    )
    return paths, status_table


def match_spells(
    con: duckdb.DuckDBPyConnection,
    graph: RoadGraph,
    config_path: Path,
    *,
    workers: int,
    search_radius_m: float,
    gps_accuracy_m: float,
    max_points: int,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Rebuild ``spell_paths`` and ``spell_match_status`` from every vacant spell."""
    prepared = spell_traces(con, graph, max_points=max_points, road_radius_m=search_radius_m)
    if on_start:
        on_start(sum(len(t.lat) for t in prepared.traces))
    mapper = EdgeMapper(graph)
    matchable = [t for t in prepared.traces if len(t.lat) >= 2]
    results = match_traces(
        config_path,
        matchable,
        workers=workers,
        search_radius_m=search_radius_m,
        gps_accuracy_m=gps_accuracy_m,
        on_done=on_done,
    )
    paths, status = _rows(
        prepared,
        (
            (trace, r.status, assemble_path(r, trace, mapper))
            for trace, r in zip(matchable, results, strict=True)
        ),
    )
    replace_rows(con, {"spell_paths": paths, "spell_match_status": status})
    rows = con.execute("SELECT status, count(*) FROM spell_match_status GROUP BY ALL").fetchall()
    return {**{str(k): int(n) for k, n in rows}, "off_road_points": prepared.off_road_points}
