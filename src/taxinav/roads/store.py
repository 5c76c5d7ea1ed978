"""Persisting the road graph in the warehouse and loading it back into CSR arrays."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from taxinav.roads.graph import RoadGraph
from taxinav.roads.osm import OsmExtract
from taxinav.warehouse import replace_rows


def _wkt(lat: np.ndarray, lon: np.ndarray) -> str:
    return (
        "LINESTRING(" + ", ".join(f"{x:.7f} {y:.7f}" for y, x in zip(lat, lon, strict=True)) + ")"
    )


def segments_table(graph: RoadGraph) -> pa.Table:
    n = graph.n_segments
    shapes = [graph.shape(s) for s in range(n)]
    return pa.table(
        {
            "segment_id": pa.array(np.arange(n), pa.int32()),
            "way_id": graph.way_id,
            "from_node": graph.from_node,
            "to_node": graph.to_node,
            "node_ids": pa.array(
                [graph.nodes_of(s).tolist() for s in range(n)], pa.list_(pa.int64())
            ),
            "highway": pa.array(graph.highway.tolist(), pa.string()),
            "name": pa.array(graph.name.tolist(), pa.string()),
            "oneway": graph.oneway,
            "length_m": graph.length_m,
            "speed_kph": graph.speed_kph,
            "mid_lat": graph.mid_lat,
            "mid_lon": graph.mid_lon,
            "h3_cell": pa.array(graph.h3_cell.tolist(), pa.string()),
            "geometry_wkt": pa.array([_wkt(la, lo) for la, lo in shapes], pa.string()),
        }
    )


def write_graph(con: duckdb.DuckDBPyConnection, graph: RoadGraph, extract: OsmExtract) -> None:
    """Replace the road tables with ``graph`` in one transaction."""
    nodes = np.unique(np.concatenate([graph.from_node, graph.to_node]))
    node_table = pa.table(
        {
            "node_id": nodes,
            "lat": [extract.node_lat[int(n)] for n in nodes],
            "lon": [extract.node_lon[int(n)] for n in nodes],
            "traffic_signals": [int(n) in extract.traffic_signals for n in nodes],
            "stop_sign": [int(n) in extract.stop_signs for n in nodes],
        }
    )
    seg = segments_table(graph)
    src = np.repeat(np.arange(graph.n_segments), np.diff(graph.succ_indptr))
    succ = pa.table(
        {
            "segment_id": pa.array(src, pa.int32()),
            "next_segment_id": pa.array(graph.succ_indices, pa.int32()),
        }
    )
    replace_rows(con, {"road_nodes": node_table, "road_segments": seg, "road_successors": succ})


def _coords(wkt: str) -> tuple[list[float], list[float]]:
    body = wkt[wkt.index("(") + 1 : wkt.rindex(")")]
    pairs = [p.split() for p in body.split(",")]
    return [float(p[1]) for p in pairs], [float(p[0]) for p in pairs]


def read_graph(con: duckdb.DuckDBPyConnection) -> RoadGraph:
    """The graph stored by :func:`write_graph`.

    Raises:
        LookupError: no road network has been loaded yet.
    """
    seg = con.sql("SELECT * FROM road_segments ORDER BY segment_id").to_arrow_table()
    if seg.num_rows == 0:
        raise LookupError("no road network in the warehouse; run `taxinav roads load` first")
    succ = con.sql(
        "SELECT segment_id, next_segment_id FROM road_successors "
        "ORDER BY segment_id, next_segment_id"
    ).to_arrow_table()
    n = seg.num_rows
    src = np.asarray(succ.column("segment_id"), dtype=np.int64)
    node_lists = seg.column("node_ids").to_pylist()
    shapes = [_coords(w) for w in seg.column("geometry_wkt").to_pylist()]
    return RoadGraph(
        way_id=np.asarray(seg.column("way_id"), dtype=np.int64),
        from_node=np.asarray(seg.column("from_node"), dtype=np.int64),
        to_node=np.asarray(seg.column("to_node"), dtype=np.int64),
        highway=np.array(seg.column("highway").to_pylist(), dtype=np.str_),
        name=np.array(seg.column("name").to_pylist(), dtype=object),
        oneway=np.asarray(seg.column("oneway"), dtype=np.bool_),
        length_m=np.asarray(seg.column("length_m"), dtype=np.float64),
        speed_kph=np.asarray(seg.column("speed_kph"), dtype=np.float64),
        mid_lat=np.asarray(seg.column("mid_lat"), dtype=np.float64),
        mid_lon=np.asarray(seg.column("mid_lon"), dtype=np.float64),
        h3_cell=np.array(seg.column("h3_cell").to_pylist(), dtype=np.str_),
        shape_indptr=np.concatenate([[0], np.cumsum([len(x) for x in node_lists])]).astype(
            np.int64
        ),
        shape_node=np.fromiter((v for x in node_lists for v in x), dtype=np.int64),
        shape_lat=np.fromiter((v for s in shapes for v in s[0]), dtype=np.float64),
        shape_lon=np.fromiter((v for s in shapes for v in s[1]), dtype=np.float64),
        succ_indptr=np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))]).astype(
            np.int64
        ),
        succ_indices=np.asarray(succ.column("next_segment_id"), dtype=np.int64),
    )
