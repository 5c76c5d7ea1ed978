"""Meili map matching on the real network: a trace driven along a known route."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taxinav.roads import (
    EdgeMapper,
    MatchResult,
    RoadGraph,
    Trace,
    assemble_path,
    build_graph,
    build_tiles,
    match_traces,
    read_osm,
)
from taxinav.roads.geo import haversine_m

pytestmark = [pytest.mark.data, pytest.mark.slow]


@pytest.fixture(scope="module")
def network(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[RoadGraph, Path]:
    osm = real_data / "osm" / "san-francisco-downtown.osm"
    graph = build_graph(read_osm(osm))
    config = build_tiles(osm, tmp_path_factory.mktemp("valhalla"))
    return graph, config


def _route(graph: RoadGraph, start: int, n: int) -> list[int]:
    """A legal route: always the successor with the smallest id, never revisiting."""
    route = [start]
    while len(route) < n:
        nxt = [int(s) for s in graph.successors(route[-1]) if int(s) not in route]
        if not nxt:
            break
        route.append(min(nxt))
    return route


def _drive(graph: RoadGraph, route: list[int], every_m: float = 25.0) -> Trace:
    lat = np.concatenate([graph.shape(s)[0][:-1] for s in route] + [graph.shape(route[-1])[0][-1:]])
    lon = np.concatenate([graph.shape(s)[1][:-1] for s in route] + [graph.shape(route[-1])[1][-1:]])
    hops = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    cum = np.concatenate([[0.0], np.cumsum(hops)])
    at = np.arange(every_m / 2, cum[-1] - every_m / 2, every_m)
    # 10 m/s along the polyline
    return Trace(
        "t",
        np.interp(at, cum, lat),
        np.interp(at, cum, lon),
        (1_211_000_000 + at / 10).astype(np.int64),
    )


def test_trace_along_a_known_route_matches_to_that_route(
    network: tuple[RoadGraph, Path],
) -> None:
    graph, config = network
    long_two_way = [s for s in np.argsort(-graph.length_m) if not graph.oneway[s]]
    route = _route(graph, int(long_two_way[0]), 6)
    assert len(route) >= 4
    trace = _drive(graph, route)
    [result] = list(match_traces(config, [trace], workers=1))
    assert result.status == "matched"
    steps = assemble_path(result, trace, EdgeMapper(graph))
    got = [s.segment for s in steps]
    # The first and last segments are only partly driven; the inner ones must match exactly.
    assert got[1:-1] == route[1:-1] or got == route
    assert {s.piece for s in steps} == {0}
    times = [s.ts for s in steps]
    assert times == sorted(times)
    assert sum(s.n_fixes for s in steps) == len(trace.lat)


def test_a_trace_far_from_any_road_is_reported_not_raised(
    network: tuple[RoadGraph, Path],
) -> None:
    _, config = network
    far = Trace(
        "sea",
        np.array([37.70, 37.701]),
        np.array([-122.60, -122.60]),
        np.array([0, 60], dtype=np.int64),
    )
    [result] = list(match_traces(config, [far], workers=1))
    assert result.status in {"off_network", "failed"}
    assert result.edges == []


def test_edges_not_on_the_graph_break_the_path_into_pieces(
    network: tuple[RoadGraph, Path],
) -> None:
    graph, _ = network
    mapper = EdgeMapper(graph)
    a, b = _route(graph, 0, 2)
    nodes_a, nodes_b = graph.nodes_of(a), graph.nodes_of(b)
    # a, then an edge of some way we do not have (a service road, say), then b.
    edges = [
        (int(graph.way_id[a]), int(nodes_a[0])),
        (999, int(nodes_a[-1])),
        (int(graph.way_id[b]), int(nodes_b[0])),
        (-1, int(nodes_b[-1])),
    ]
    result = MatchResult("x", "matched", edges, point_edge=[0, 2])
    trace = Trace("x", np.zeros(2), np.zeros(2), np.array([10, 20], dtype=np.int64))
    steps = assemble_path(result, trace, mapper)
    assert [(s.segment, s.piece) for s in steps] == [(a, 0), (b, 1)]
    assert [s.ts for s in steps] == [10, 20]
