"""Road network: OSM → directed segment graph (CSR), point snapping, map matching of trips
and vacant spells (Meili).

Public API of the ``roads`` domain; it imports no other domain.
"""

from taxinav.roads.geo import LocalProjection, haversine_m
from taxinav.roads.graph import RoadGraph, build_graph
from taxinav.roads.matching import match_spells, snap_trip_ends
from taxinav.roads.meili import MatchResult, Trace, build_tiles, match_traces
from taxinav.roads.network import load_roads
from taxinav.roads.osm import Direction, OsmExtract, Way, direction_of, parse_maxspeed, read_osm
from taxinav.roads.paths import EdgeMapper, PathStep, assemble_path
from taxinav.roads.snap import SegmentIndex, SnapResult
from taxinav.roads.store import read_graph, write_graph

__all__ = [
    "Direction",
    "EdgeMapper",
    "LocalProjection",
    "MatchResult",
    "OsmExtract",
    "PathStep",
    "RoadGraph",
    "SegmentIndex",
    "SnapResult",
    "Trace",
    "Way",
    "assemble_path",
    "build_graph",
    "build_tiles",
    "direction_of",
    "haversine_m",
    "load_roads",
    "match_spells",
    "match_traces",
    "parse_maxspeed",
    "read_graph",
    "read_osm",
    "snap_trip_ends",
    "write_graph",
]
