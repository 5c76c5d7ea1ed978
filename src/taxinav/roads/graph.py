"""The directed road-segment graph: intersection-to-intersection segments, legal moves, CSR.

A *segment* is a directed stretch of one OSM way between two graph nodes (intersections or
way ends). Its *successors* are the segments a vehicle may legally take next: those leaving
its end node, excluding the U-turn onto its own reverse twin unless nothing else is possible
(a dead end). Only the largest strongly connected part of that successor graph is kept, so
every kept segment can reach every other one: no vehicle can get stuck.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import h3
import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from taxinav.roads.geo import haversine_m
from taxinav.roads.osm import Direction, OsmExtract

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class RoadGraph:
    """Segments as parallel arrays indexed by segment id (0..n-1), successors as CSR."""

    way_id: IntArray
    from_node: IntArray
    to_node: IntArray
    highway: NDArray[np.str_]
    name: NDArray[np.object_]
    oneway: NDArray[np.bool_]
    length_m: FloatArray
    speed_kph: FloatArray
    mid_lat: FloatArray
    mid_lon: FloatArray
    h3_cell: NDArray[np.str_]
    # node sequence and coordinates of each segment, CSR over ``shape_indptr``
    shape_indptr: IntArray
    shape_node: IntArray
    shape_lat: FloatArray
    shape_lon: FloatArray
    # legal next segments of s: succ_indices[succ_indptr[s]:succ_indptr[s + 1]]
    succ_indptr: IntArray
    succ_indices: IntArray

    @property
    def n_segments(self) -> int:
        return int(self.way_id.shape[0])

    @property
    def n_nodes(self) -> int:
        return int(np.unique(np.concatenate([self.from_node, self.to_node])).shape[0])

    def successors(self, segment: int) -> IntArray:
        return self.succ_indices[self.succ_indptr[segment] : self.succ_indptr[segment + 1]]

    def shape(self, segment: int) -> tuple[FloatArray, FloatArray]:
        """Latitudes and longitudes along ``segment`` in travel order."""
        lo, hi = self.shape_indptr[segment], self.shape_indptr[segment + 1]
        return self.shape_lat[lo:hi], self.shape_lon[lo:hi]

    def nodes_of(self, segment: int) -> IntArray:
        lo, hi = self.shape_indptr[segment], self.shape_indptr[segment + 1]
        return self.shape_node[lo:hi]

    @property
    def travel_time_s(self) -> FloatArray:
        return self.length_m / (self.speed_kph / 3.6)

    def successor_matrix(self) -> csr_matrix:
        """Sparse adjacency (segment → legal next segment)."""
        n = self.n_segments
        data = np.ones(self.succ_indices.shape[0], dtype=np.int8)
        return csr_matrix((data, self.succ_indices, self.succ_indptr), shape=(n, n))


@dataclass
class _Draft:
    """A directed segment before filtering."""

    way: int
    piece: int
    nodes: list[int]
    highway: str
    name: str | None
    oneway: bool
    speed_kph: float


def _split_points(extract: OsmExtract) -> set[int]:
    uses: Counter[int] = Counter()
    ends: set[int] = set()
    for way in extract.ways:
        uses.update(way.node_ids)
        ends.update((way.node_ids[0], way.node_ids[-1]))
    return ends | {n for n, c in uses.items() if c > 1}


def _drafts(extract: OsmExtract) -> list[_Draft]:
    split = _split_points(extract)
    drafts: list[_Draft] = []
    piece = 0
    for way in extract.ways:
        if way.direction is Direction.NONE:
            continue
        start = 0
        for i in range(1, len(way.node_ids)):
            if way.node_ids[i] not in split and i != len(way.node_ids) - 1:
                continue
            nodes = list(way.node_ids[start : i + 1])
            start = i
            oneway = way.direction is not Direction.BOTH
            if way.direction in (Direction.FORWARD, Direction.BOTH):
                drafts.append(
                    _Draft(way.way_id, piece, nodes, way.highway, way.name, oneway, way.speed_kph)
                )
            if way.direction in (Direction.BACKWARD, Direction.BOTH):
                drafts.append(
                    _Draft(
                        way.way_id, piece, nodes[::-1], way.highway, way.name, oneway, way.speed_kph
                    )
                )
            piece += 1
    return drafts


def _legal_moves(drafts: list[_Draft]) -> list[list[int]]:
    leaving: dict[int, list[int]] = defaultdict(list)
    for i, d in enumerate(drafts):
        leaving[d.nodes[0]].append(i)
    moves: list[list[int]] = []
    for d in drafts:
        out = leaving.get(d.nodes[-1], [])
        no_uturn = [j for j in out if drafts[j].piece != d.piece]
        moves.append(no_uturn if no_uturn else list(out))
    return moves


def _largest_scc(moves: list[list[int]]) -> NDArray[np.bool_]:
    n = len(moves)
    rows = np.repeat(np.arange(n), [len(m) for m in moves])
    cols = np.fromiter((j for m in moves for j in m), dtype=np.int64, count=int(rows.shape[0]))
    adj = csr_matrix((np.ones(rows.shape[0], dtype=np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(adj, directed=True, connection="strong")
    biggest = np.bincount(labels).argmax()
    return np.asarray(labels == biggest)


def _midpoint(lat: FloatArray, lon: FloatArray) -> tuple[float, float, float]:
    """Length and the point halfway along a polyline."""
    hops = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    cum = np.concatenate([[0.0], np.cumsum(hops)])
    total = float(cum[-1])
    half = total / 2
    i = min(int(np.searchsorted(cum, half, side="right")) - 1, len(hops) - 1)
    t = 0.0 if hops[i] == 0 else (half - cum[i]) / hops[i]
    return (
        total,
        float(lat[i] + t * (lat[i + 1] - lat[i])),
        float(lon[i] + t * (lon[i + 1] - lon[i])),
    )


def build_graph(extract: OsmExtract, h3_resolution: int = 9) -> RoadGraph:
    """Segments, legal moves and the largest strongly connected part of ``extract``."""
    drafts = _drafts(extract)
    if not drafts:
        raise ValueError("the OSM extract has no drivable ways")
    moves = _legal_moves(drafts)
    keep = _largest_scc(moves)
    new_id = np.full(len(drafts), -1, dtype=np.int64)
    new_id[keep] = np.arange(int(keep.sum()))
    kept = [d for d, k in zip(drafts, keep, strict=True) if k]

    succ_lists = [sorted(int(new_id[j]) for j in moves[i] if keep[j]) for i in np.flatnonzero(keep)]
    succ_indptr = np.concatenate([[0], np.cumsum([len(s) for s in succ_lists])]).astype(np.int64)
    succ_indices = np.fromiter((j for s in succ_lists for j in s), dtype=np.int64)

    shape_nodes = [np.asarray(d.nodes, dtype=np.int64) for d in kept]
    shape_indptr = np.concatenate([[0], np.cumsum([len(s) for s in shape_nodes])]).astype(np.int64)
    all_nodes = np.concatenate(shape_nodes)
    shape_lat = np.array([extract.node_lat[n] for n in all_nodes], dtype=np.float64)
    shape_lon = np.array([extract.node_lon[n] for n in all_nodes], dtype=np.float64)

    geo = [
        _midpoint(
            shape_lat[shape_indptr[i] : shape_indptr[i + 1]],
            shape_lon[shape_indptr[i] : shape_indptr[i + 1]],
        )
        for i in range(len(kept))
    ]
    mid_lat = np.array([g[1] for g in geo])
    mid_lon = np.array([g[2] for g in geo])
    return RoadGraph(
        way_id=np.array([d.way for d in kept], dtype=np.int64),
        from_node=np.array([d.nodes[0] for d in kept], dtype=np.int64),
        to_node=np.array([d.nodes[-1] for d in kept], dtype=np.int64),
        highway=np.array([d.highway for d in kept], dtype=np.str_),
        name=np.array([d.name for d in kept], dtype=object),
        oneway=np.array([d.oneway for d in kept], dtype=np.bool_),
        length_m=np.array([g[0] for g in geo]),
        speed_kph=np.array([d.speed_kph for d in kept]),
        mid_lat=mid_lat,
        mid_lon=mid_lon,
        h3_cell=np.array(
            [h3.latlng_to_cell(a, b, h3_resolution) for a, b in zip(mid_lat, mid_lon, strict=True)],
            dtype=np.str_,
        ),
        shape_indptr=shape_indptr,
        shape_node=all_nodes,
        shape_lat=shape_lat,
        shape_lon=shape_lon,
        succ_indptr=succ_indptr,
        succ_indices=succ_indices,
    )
