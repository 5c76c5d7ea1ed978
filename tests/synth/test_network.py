"""The grid city's network, loaded by the project's own OSM reader and graph builder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from taxinav.roads.graph import RoadGraph, build_graph
from taxinav.roads.osm import read_osm
from taxinav.synth import count_segments, grid_city, grid_size, write_pbf


def _load(tmp_path: Path, segments: int, seed: int = 1) -> RoadGraph:
    path = tmp_path / f"city-{segments}-{seed}.osm.pbf"
    write_pbf(grid_city(segments, seed), path)
    return build_graph(read_osm(path))


@pytest.mark.parametrize("segments", [400, 1_000, 5_000])
def test_the_loaded_graph_has_the_asked_number_of_segments(tmp_path: Path, segments: int) -> None:
    graph = _load(tmp_path, segments)
    assert abs(graph.n_segments - segments) <= 0.05 * segments
    assert graph.n_segments == grid_city(segments, 1).segments  # the loader keeps every segment


def test_the_size_is_solved_for_large_cities_too() -> None:
    rows, cols = grid_size(200_000)
    assert abs(count_segments(rows, cols, 5) - 200_000) <= 0.01 * 200_000


def test_some_streets_are_one_way_and_arterials_are_faster(tmp_path: Path) -> None:
    graph = _load(tmp_path, 400)
    assert 0.1 < graph.oneway.mean() < 0.5
    fast = graph.speed_kph[np.isin(graph.highway, ["primary", "secondary"])]
    slow = graph.speed_kph[graph.highway == "residential"]
    assert fast.size and slow.size
    assert fast.min() > slow.max()
    # a two-way block is two segments, one each way; a one-way block has no reverse twin
    pairs = {(int(a), int(b)) for a, b in zip(graph.from_node, graph.to_node, strict=True)}
    two_way = ~graph.oneway
    assert all(
        (int(b), int(a)) in pairs
        for a, b in zip(graph.from_node[two_way], graph.to_node[two_way], strict=True)
    )
    assert not any(
        (int(b), int(a)) in pairs
        for a, b in zip(graph.from_node[graph.oneway], graph.to_node[graph.oneway], strict=True)
    )


def test_the_city_has_irregular_districts(tmp_path: Path) -> None:
    graph = _load(tmp_path, 3_000)
    shape_points = np.diff(graph.shape_indptr)
    assert (shape_points == 3).any()  # bent blocks of the jittered district
    assert "Diagonal Avenue" in set(graph.name.tolist())
    # headings: a grid has four; jitter, twist and the diagonal add many more
    first = graph.shape_indptr[:-1]
    dlat, dlon = graph.mid_lat - graph.shape_lat[first], graph.mid_lon - graph.shape_lon[first]
    heading = np.degrees(np.arctan2(dlat, dlon))
    assert np.unique(np.round(heading)).size > 20


def test_the_same_seed_writes_the_same_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.pbf", tmp_path / "b.pbf", tmp_path / "c.pbf"
    write_pbf(grid_city(1_000, 3), a)
    write_pbf(grid_city(1_000, 3), b)
    write_pbf(grid_city(1_000, 4), c)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_a_city_too_small_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 200 segments"):
        grid_city(50, 0)
