"""Road network: OSM → directed segment graph (CSR), point snapping, Meili map matching.

Public API of the ``roads`` domain; it imports no other domain.
"""

from taxinav.roads.geo import LocalProjection, haversine_m
from taxinav.roads.graph import RoadGraph, build_graph
from taxinav.roads.meili import MatchResult, Trace, build_tiles, match_traces
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
    "match_traces",
    "parse_maxspeed",
    "read_graph",
    "read_osm",
    "write_graph",
]
