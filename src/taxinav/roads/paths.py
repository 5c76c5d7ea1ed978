"""Turning Meili's matched Valhalla edges into sequences of our directed segments."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from taxinav.roads.graph import RoadGraph
from taxinav.roads.meili import MatchResult, Trace


@dataclass(frozen=True)
class PathStep:
    """One segment of a matched path; ``piece`` increments where the path breaks."""

    seq: int
    piece: int
    segment: int
    ts: int  # seconds since the epoch when the vehicle was on the segment
    n_fixes: int


class EdgeMapper:
    """Finds our directed segment for a Valhalla edge given by (way, begin node, end node)."""

    def __init__(self, graph: RoadGraph) -> None:
        self.graph = graph
        self._by_begin: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
        self._pos: list[dict[int, int]] = []
        for s in range(graph.n_segments):
            nodes = graph.nodes_of(s).tolist()
            self._pos.append({n: i for i, n in enumerate(nodes)})
            for i, node in enumerate(nodes[:-1]):
                self._by_begin[(int(graph.way_id[s]), node)].append((s, i))

    def segment(self, way: int, begin: int, end: int | None, previous: int = -1) -> int:
        """Segment id, or -1 when the edge is not on the graph or cannot be told apart."""
        candidates = self._by_begin.get((way, begin), [])
        if end is not None:
            candidates = [(s, i) for s, i in candidates if self._pos[s].get(end, -1) > i]
        if len(candidates) > 1 and previous >= 0:
            legal = set(self.graph.successors(previous).tolist()) | {previous}
            candidates = [(s, i) for s, i in candidates if s in legal]
        return candidates[0][0] if len(candidates) == 1 else -1


def _edge_segments(result: MatchResult, mapper: EdgeMapper) -> list[int]:
    segs: list[int] = []
    for k, (way, begin) in enumerate(result.edges):
        end = result.edges[k + 1][1] if k + 1 < len(result.edges) else None
        segs.append(mapper.segment(way, begin, end, segs[-1] if segs else -1))
    return segs


def _steps(
    segs: list[int], graph: RoadGraph, first_piece: int
) -> tuple[list[list[int]], list[int]]:
    """Consecutive edges on one segment become one step; unmapped edges and illegal moves
    start a new piece. Returns [segment, piece] per step and the step of each edge (-1)."""
    steps: list[list[int]] = []
    step_of_edge: list[int] = []
    piece, last = first_piece, -1
    for s in segs:
        if s < 0:
            step_of_edge.append(-1)
            piece += last >= 0
            last = -1
        elif s == last:
            step_of_edge.append(len(steps) - 1)
        else:
            piece += last >= 0 and s not in graph.successors(last)
            steps.append([s, piece])
            step_of_edge.append(len(steps) - 1)
            last = s
    return steps, step_of_edge


def assemble_path(
    result: MatchResult, trace: Trace, mapper: EdgeMapper, first_piece: int = 0
) -> list[PathStep]:
    """Collapse matched edges to segment steps with times and fix counts."""
    if result.status != "matched" or not result.edges:
        return []
    steps, step_of_edge = _steps(_edge_segments(result, mapper), mapper.graph, first_piece)
    if not steps:
        return []
    first_ts = np.full(len(steps), -1, dtype=np.int64)
    counts = np.zeros(len(steps), dtype=np.int64)
    for j, e in enumerate(result.point_edge[: len(trace.ts)]):
        k = step_of_edge[e] if e >= 0 else -1
        if k >= 0:
            counts[k] += 1
            if first_ts[k] < 0:
                first_ts[k] = int(trace.ts[j])
    known = np.flatnonzero(first_ts >= 0)
    if known.size == 0:
        return []
    # Steps crossed between fixes get times interpolated along the step sequence.
    times = np.interp(np.arange(len(steps)), known, first_ts[known].astype(np.float64))
    times = np.maximum.accumulate(np.round(times)).astype(np.int64)
    return [
        PathStep(i, steps[i][1], steps[i][0], int(times[i]), int(counts[i]))
        for i in range(len(steps))
    ]
