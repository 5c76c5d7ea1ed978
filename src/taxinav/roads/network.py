"""The drivable network of an OpenStreetMap extract, loaded into the warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb

from taxinav.roads.graph import RoadGraph, build_graph
from taxinav.roads.osm import read_osm
from taxinav.roads.store import write_graph


def load_roads(con: duckdb.DuckDBPyConnection, osm_path: Path, h3_resolution: int) -> RoadGraph:
    """Read the extract, build the directed segment graph and replace the warehouse's copy."""
    extract = read_osm(osm_path)
    graph = build_graph(extract, h3_resolution)
    write_graph(con, graph, extract)
    return graph
