"""The graph of the real downtown San Francisco extract, checked against the raw XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import breadth_first_order

from taxinav.roads import RoadGraph, build_graph, read_osm
from taxinav.roads.osm import DRIVABLE

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def osm(real_data: Path) -> Path:
    return real_data / "osm" / "san-francisco-downtown.osm"


@pytest.fixture(scope="module")
def graph(osm: Path) -> RoadGraph:
    return build_graph(read_osm(osm))


@pytest.fixture(scope="module")
def ways(osm: Path) -> dict[int, tuple[list[int], dict[str, str]]]:
    out = {}
    for w in ET.parse(osm).getroot().iter("way"):
        tags = {t.get("k", ""): t.get("v", "") for t in w.iter("tag")}
        out[int(w.get("id", "0"))] = ([int(n.get("ref", "0")) for n in w.iter("nd")], tags)
    return out


def test_file_has_the_documented_size(
    osm: Path, ways: dict[int, tuple[list[int], dict[str, str]]]
) -> None:
    nodes = sum(1 for _ in ET.parse(osm).getroot().iter("node"))
    assert (nodes, len(ways)) == (11_588, 2_558)


def test_every_segment_reaches_and_is_reached_by_every_other(graph: RoadGraph) -> None:
    adj = graph.successor_matrix()
    assert (
        breadth_first_order(adj, 0, directed=True, return_predecessors=False).size
        == graph.n_segments
    )
    assert (
        breadth_first_order(adj.T.tocsr(), 0, directed=True, return_predecessors=False).size
        == graph.n_segments
    )
    assert graph.n_segments > 5_000


def test_segments_follow_their_way_and_respect_oneway(
    graph: RoadGraph, ways: dict[int, tuple[list[int], dict[str, str]]]
) -> None:
    for s in range(graph.n_segments):
        refs, tags = ways[int(graph.way_id[s])]
        assert tags["highway"] in DRIVABLE
        nodes = graph.nodes_of(s).tolist()
        i = refs.index(nodes[0])
        forward = refs[i : i + len(nodes)] == nodes
        if tags.get("oneway") == "yes" or tags.get("junction") == "roundabout":
            assert forward, f"segment {s} runs against one-way way {graph.way_id[s]}"
        if tags.get("oneway") == "-1":
            assert not forward


def test_moves_connect_end_to_start_and_uturn_only_at_dead_ends(graph: RoadGraph) -> None:
    for s in range(graph.n_segments):
        succ = graph.successors(s)
        assert succ.size > 0
        assert np.all(graph.from_node[succ] == graph.to_node[s])
        twins = [
            t
            for t in succ
            if graph.to_node[t] == graph.from_node[s]
            and graph.way_id[t] == graph.way_id[s]
            and graph.nodes_of(int(t)).tolist() == graph.nodes_of(s).tolist()[::-1]
        ]
        if twins:
            assert succ.size == 1, f"U-turn offered at {s} although other moves exist"


def test_every_segment_carries_an_h3_cell_of_the_configured_resolution(graph: RoadGraph) -> None:
    import h3

    assert {h3.get_resolution(c) for c in graph.h3_cell[:50]} == {9}
