"""Snapping points to directed segments on the small network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taxinav.roads import SegmentIndex, build_graph, read_osm
from taxinav.roads.graph import RoadGraph
from tests.roads.small_network import write_osm

NORTH_11M = 37.0001  # 11 m north of A St (lat 37.0), between nodes 1 and 2


@pytest.fixture
def graph(tmp_path: Path) -> RoadGraph:
    return build_graph(read_osm(write_osm(tmp_path / "small.osm")))


def _seg(graph: RoadGraph, a: int, b: int) -> int:
    pairs = list(zip(graph.from_node.tolist(), graph.to_node.tolist(), strict=True))
    return pairs.index((a, b))


def test_heading_picks_the_travel_direction(graph: RoadGraph) -> None:
    idx = SegmentIndex(graph)
    lat = np.array([NORTH_11M, NORTH_11M])
    lon = np.array([-121.9995, -121.9995])
    got = idx.snap(lat, lon, np.array([90.0, 270.0]), radius_m=50)
    assert got.segment.tolist() == [_seg(graph, 1, 2), _seg(graph, 2, 1)]
    assert got.distance_m == pytest.approx([11.12, 11.12], abs=0.05)
    assert got.offset_frac == pytest.approx([0.5, 0.5], abs=0.01)


def test_without_heading_the_kerb_side_decides(graph: RoadGraph) -> None:
    idx = SegmentIndex(graph)
    # North of an east-west street is the right-hand kerb for westbound traffic.
    north = idx.snap(np.array([NORTH_11M]), np.array([-121.9995]), radius_m=50)
    south = idx.snap(np.array([36.9999]), np.array([-121.9995]), radius_m=50)
    assert north.segment.tolist() == [_seg(graph, 2, 1)]
    assert south.segment.tolist() == [_seg(graph, 1, 2)]


def test_points_beyond_the_radius_stay_unmatched(graph: RoadGraph) -> None:
    idx = SegmentIndex(graph)
    got = idx.snap(np.array([36.9995, 36.0]), np.array([-121.9975, -121.0]), radius_m=50)
    # 55.6 m south of A St, 71 m from node 3, 133 m from D; the footway 3-6 does not count.
    assert got.segment.tolist() == [-1, -1]
    assert not got.matched.any()


def test_within_lists_every_segment_in_reach(graph: RoadGraph) -> None:
    idx = SegmentIndex(graph)
    # Node 2 itself: every segment touching it (1-2, 2-1, 2-3, 2-6, 6-2) lies within 1 m.
    pts, segs = idx.within(np.array([37.0]), np.array([-121.999]), radius_m=1.0)
    touching = {_seg(graph, a, b) for a, b in ((1, 2), (2, 1), (2, 3), (2, 6), (6, 2))}
    assert set(segs.tolist()) == touching
    assert set(pts.tolist()) == {0}


def test_points_are_snapped_in_blocks_with_the_same_answers(
    graph: RoadGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many points are queried a block at a time (memory); the answers do not depend on it."""
    from taxinav.roads import snap

    rng = np.random.default_rng(3)
    lat = 37.0 + rng.uniform(-0.001, 0.002, 101)
    lon = -122.0 + rng.uniform(-0.001, 0.003, 101)
    heading = np.where(rng.random(101) < 0.5, np.nan, rng.uniform(0, 360, 101))
    idx = SegmentIndex(graph)
    whole = idx.snap(lat, lon, heading, radius_m=60)
    whole_near = idx.near(lat, lon, 30)
    assert whole.matched.any() and not whole.matched.all()
    monkeypatch.setattr(snap, "BLOCK", 7)
    blocks = idx.snap(lat, lon, heading, radius_m=60)
    np.testing.assert_array_equal(blocks.segment, whole.segment)
    np.testing.assert_array_equal(blocks.distance_m, whole.distance_m)
    np.testing.assert_array_equal(blocks.offset_frac, whole.offset_frac)
    np.testing.assert_array_equal(idx.near(lat, lon, 30), whole_near)
