"""Every route is checked before it is served: broken routes are fed in on purpose."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from taxinav.routing.route import (
    Route,
    RouteLimits,
    area_polygon,
    network_area_mask,
    segments_inside,
)
from tests.routing.tiny import TRIANGLE, checker, triangle_checker


def _route(segs: list[int], start: int = 0, eta: list[float] | None = None,
           length: float | None = None, duration: float = 60.0,
           p: list[float] | None = None) -> Route:  # fmt: skip
    lengths = {0: 100.0, 1: 100.0, 2: 200.0}
    return Route(
        vehicle_id="cab", start_segment=start, segments=np.array(segs, dtype=np.int64),
        eta_s=np.array(eta if eta is not None else [10.0 * i for i in range(len(segs))]),
        p_step=np.array(p if p is not None else [0.1] * len(segs)),
        length_m=length if length is not None else sum(lengths.get(s, 0) for s in segs),
        duration_s=duration,
    )  # fmt: skip


def _tri_route(segs: list[int], start: int) -> Route:
    lengths = [88.0, 142.0, 111.0, 111.0]
    return Route("cab", start, np.array(segs, dtype=np.int64), 10.0 * np.arange(len(segs)),
                 np.full(len(segs), 0.1), sum(lengths[s] for s in segs), 60.0)  # fmt: skip


def test_a_legal_route_passes() -> None:
    c = checker()
    assert c.problem(_route([1, 0, 2])) is None
    assert c.admit(_route([1, 0, 2])) and not c.failures


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        (_route([]), "empty"),
        (_route([1, 7]), "unknown_segment"),
        (_route([2], start=1), "illegal_move:1->2"),  # not connected to where the taxi is
        (_route([1, 2]), "illegal_move:1->2"),  # 1 only leads back to 0
        (_route([1, 0], eta=[10.0, 5.0]), "eta_not_increasing"),
        (_route([1, 0], length=5.0), "length_mismatch"),
        # Segment 1 swapped for 2 (both legal from 0), stated length still 100 + 100 m.
        (_route([2, 0], length=200.0), "length_mismatch"),
        # Segment 1 four times (and 0 three times): the fourth drive of 1 breaks the limit.
        (_route([1, 0, 1, 0, 1, 0, 1]), "loop:1"),
        (_route([1, 0], duration=0.0), "duration_out_of_bounds"),
        (_route([1, 0], p=[0.2, 1.5]), "probability_out_of_range"),
    ],
)
def test_broken_routes_are_refused_with_their_reason(route: Route, reason: str) -> None:
    c = checker(limits=RouteLimits())
    assert c.problem(route) == reason
    assert not c.admit(route)
    assert c.failures[reason.split(":")[0]] == 1


def test_a_route_leaving_the_mapped_area_is_refused() -> None:
    assert checker([True, True, False]).problem(_route([1, 0, 2])) == "outside_area"


def test_a_route_leaving_a_given_square_is_refused() -> None:
    # The square holds A and B but not C (lat 37.776): only segment 0 (A→B) is inside. A→B
    # lies on its southern edge (lat 37.775), which counts as inside.
    square_lat = [37.775, 37.775, 37.7755, 37.7755]
    square_lon = [-122.4195, -122.4175, -122.4175, -122.4195]
    inside = segments_inside(TRIANGLE.shape_indptr, TRIANGLE.shape_lat, TRIANGLE.shape_lon,
                             square_lat, square_lon)  # fmt: skip
    assert inside.tolist() == [True, False, False, False]
    c = triangle_checker(inside)
    assert c.problem(_tri_route([0], start=2)) is None  # C→A (where it is) then A→B
    assert c.problem(_tri_route([0, 1], start=2)) == "outside_area"  # then B→C


def test_the_network_area_holds_the_network_and_not_far_segments() -> None:
    # Every triangle segment lies on the hull; the 50 m margin keeps them inside.
    assert network_area_mask(TRIANGLE).tolist() == [True, True, True, True]
    poly_lat, poly_lon = area_polygon(TRIANGLE.shape_lat, TRIANGLE.shape_lon, margin_m=50.0)
    # South of the middle of A→B: 0.0003° of latitude ≈ 33 m (in), 0.0007° ≈ 78 m (out); a
    # segment 3 km away (out).
    lat = [37.7747, 37.7747, 37.7743, 37.7743, 37.80, 37.80]
    lon = [-122.4185, -122.4184, -122.4185, -122.4184, -122.40, -122.399]
    assert segments_inside([0, 2, 4, 6], lat, lon, poly_lat, poly_lon).tolist() == [
        True, False, False,
    ]  # fmt: skip


def test_skipping_a_segment_is_an_illegal_move() -> None:
    # From A→B the next segment must start at B; C→A skips B→C.
    assert triangle_checker().problem(_tri_route([2], start=0)) == "illegal_move:0->2"


def test_driving_against_a_one_way_is_an_illegal_move() -> None:
    c = triangle_checker()
    assert c.problem(_tri_route([1], start=0)) is None  # B→C, with the one-way
    # Arrived at C by A→C, the B–C street can only be driven C→B: against its one way.
    assert c.problem(_tri_route([1], start=3)) == "illegal_move:3->1"


def test_loops_count_drives_not_waits() -> None:
    c = checker(limits=RouteLimits())
    assert c.problem(_route([1, 0, 1, 0, 1, 0])) is None  # three drives each: the limit
    c.can_wait = np.array([False, True, False])
    # Driven once onto 1, then four waits on it: not a loop.
    assert c.problem(_route([1, 1, 1, 1, 1], length=100.0)) is None
    c.limits = RouteLimits(max_visits=2)
    assert c.problem(_route([1, 0, 1, 0, 1])) == "loop:1"


def test_a_wait_adds_no_length() -> None:
    c = checker()
    c.can_wait = np.array([False, True, False])
    assert c.problem(_route([1, 1, 0], length=300.0)) == "length_mismatch"  # 1 counted twice


def test_admit_counts_failures_by_kind() -> None:
    c = checker(limits=RouteLimits())
    routes = [_route([1, 2]), _route([2], start=1), _route([1, 0, 1, 0, 1, 0, 1]),
              _route([1, 0], length=5.0), _route([1, 0, 2])]  # fmt: skip
    assert [c.admit(r) for r in routes] == [False, False, False, False, True]
    assert c.failures == {"illegal_move": 2, "loop": 1, "length_mismatch": 1}


def test_length_and_duration_limits() -> None:
    c = checker()
    c.limits = RouteLimits(max_length_m=250.0, max_duration_s=30.0)
    assert c.problem(_route([1, 0, 2])) == "too_long"
    assert c.problem(_route([1], duration=31.0)) == "duration_out_of_bounds"


def test_waiting_is_legal_only_where_taxis_may_stand() -> None:
    c = checker()
    wait_on_1 = _route([1, 1, 0], eta=[0.0, 10.0, 25.0], length=200.0)
    assert c.problem(wait_on_1) == "illegal_wait:1"
    c.can_wait = np.array([False, True, False])
    assert c.problem(wait_on_1) is None
    assert wait_on_1.waits.tolist() == [False, True, False]


def test_geojson_joins_steps_and_says_where_each_starts() -> None:
    # Three steps: segment 0 (a→b), segment 1 (b→c), then waiting on segment 1.
    # Polylines as CSR: segment 0 is (lat 0, lon 0) → (0, 1), segment 1 is (0, 1) → (1, 1).
    shapes = SimpleNamespace(shape_indptr=np.array([0, 2, 4]),
                             shape_lat=np.array([0.0, 0.0, 0.0, 1.0]),
                             shape_lon=np.array([0.0, 1.0, 1.0, 1.0]))  # fmt: skip
    route = Route("cab", 5, np.array([0, 1, 1]), np.array([0.0, 10.0, 20.0]),
                  np.array([0.1, 0.2, 0.5]), 200.0, 30.0)  # fmt: skip
    feature = route.geojson(shapes)
    coords = feature["geometry"]["coordinates"]
    # Step 1 continues from step 0's last point; the wait redraws segment 1 from its start.
    assert coords == [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    assert feature["properties"]["step_start"] == [0, 1, 3]
    assert feature["properties"]["wait"] == [False, False, True]
    assert feature["properties"]["p_cumulative"] == pytest.approx([0.1, 0.28, 0.64])
