"""The segment graph on a small network with known answers, and OSM tag rules."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from taxinav.roads import Direction, build_graph, direction_of, parse_maxspeed, read_osm
from taxinav.roads.graph import RoadGraph
from tests.roads.small_network import EXPECTED_SUCCESSORS, write_osm


@pytest.fixture
def graph(tmp_path: Path) -> RoadGraph:
    return build_graph(read_osm(write_osm(tmp_path / "small.osm")), h3_resolution=9)


def _pairs(g: RoadGraph) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in zip(g.from_node, g.to_node, strict=True)]


def test_segments_are_the_strongly_connected_part(graph: RoadGraph) -> None:
    assert set(_pairs(graph)) == set(EXPECTED_SUCCESSORS)
    assert graph.n_segments == 7
    assert graph.n_nodes == 5  # 1, 2, 3, 4, 6


def test_successors_are_exactly_the_legal_moves(graph: RoadGraph) -> None:
    pairs = _pairs(graph)
    got = {pairs[s]: {pairs[int(t)] for t in graph.successors(s)} for s in range(7)}
    assert got == EXPECTED_SUCCESSORS


def test_interior_nodes_stay_in_the_shape_and_oneway_is_flagged(graph: RoadGraph) -> None:
    s = _pairs(graph).index((4, 1))
    assert graph.nodes_of(s).tolist() == [4, 5, 1]
    assert bool(graph.oneway[s]) is True
    assert bool(graph.oneway[_pairs(graph).index((1, 2))]) is False


def test_length_and_speed(graph: RoadGraph) -> None:
    s = _pairs(graph).index((1, 2))
    # 0.001 deg of longitude at 37 deg N on the 6371008.8 m sphere
    expected = 6_371_008.8 * math.radians(0.001) * math.cos(math.radians(37.0))
    assert graph.length_m[s] == pytest.approx(expected, rel=1e-6)
    assert graph.speed_kph[s] == pytest.approx(25 * 1.609344)
    assert graph.speed_kph[_pairs(graph).index((4, 1))] == pytest.approx(30.0)
    assert graph.mid_lon[s] == pytest.approx(-121.9995)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"highway": "residential"}, Direction.BOTH),
        ({"highway": "residential", "oneway": "yes"}, Direction.FORWARD),
        ({"highway": "residential", "oneway": "-1"}, Direction.BACKWARD),
        ({"highway": "motorway"}, Direction.FORWARD),
        ({"highway": "motorway", "oneway": "no"}, Direction.BOTH),
        ({"highway": "primary", "junction": "roundabout"}, Direction.FORWARD),
        ({"highway": "primary", "oneway": "reversible"}, Direction.NONE),
    ],
)
def test_direction_rules(tags: dict[str, str], expected: Direction) -> None:
    assert direction_of(tags) is expected


@pytest.mark.parametrize(
    ("raw", "kph"),
    [("25 mph", 40.2336), ("50", 50.0), ("30;40", 30.0), ("signals", None), (None, None)],
)
def test_maxspeed_parsing(raw: str | None, kph: float | None) -> None:
    got = parse_maxspeed(raw)
    assert got == (None if kph is None else pytest.approx(kph))


def test_reverse_oneway_runs_against_node_order(tmp_path: Path) -> None:
    path = tmp_path / "rev.osm"
    path.write_text(
        "<osm version='0.6'>"
        "<node id='1' lat='0' lon='0'/><node id='2' lat='0' lon='0.001'/>"
        "<node id='3' lat='0.001' lon='0.0005'/>"
        "<way id='1'><nd ref='1'/><nd ref='2'/><tag k='highway' v='primary'/>"
        "<tag k='oneway' v='-1'/></way>"
        "<way id='2'><nd ref='1'/><nd ref='3'/><nd ref='2'/><tag k='highway' v='primary'/>"
        "<tag k='oneway' v='yes'/></way></osm>"
    )
    g = build_graph(read_osm(path))
    assert set(_pairs(g)) == {(2, 1), (1, 2)}
    assert g.nodes_of(_pairs(g).index((1, 2))).tolist() == [1, 3, 2]
