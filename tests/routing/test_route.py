"""Every route is checked before it is served: broken routes are fed in on purpose."""

from __future__ import annotations

import numpy as np
import pytest

from taxinav.routing.route import Route, RouteLimits
from tests.routing.tiny import checker


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
        (_route([1, 0], duration=0.0), "duration_out_of_bounds"),
        (_route([1, 0], p=[0.2, 1.5]), "probability_out_of_range"),
    ],
)
def test_broken_routes_are_refused_with_their_reason(route: Route, reason: str) -> None:
    c = checker()
    assert c.problem(route) == reason
    assert not c.admit(route)
    assert c.failures[reason.split(":")[0]] == 1


def test_a_route_leaving_the_mapped_area_is_refused() -> None:
    assert checker([True, True, False]).problem(_route([1, 0, 2])) == "outside_area"


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
    shapes = {0: ([0.0, 0.0], [0.0, 1.0]), 1: ([0.0, 1.0], [1.0, 1.0])}  # (lats, lons)
    route = Route("cab", 5, np.array([0, 1, 1]), np.array([0.0, 10.0, 20.0]),
                  np.array([0.1, 0.2, 0.5]), 200.0, 30.0)  # fmt: skip
    feature = route.geojson(lambda s: shapes[s])
    coords = feature["geometry"]["coordinates"]
    # Step 1 continues from step 0's last point; the wait redraws segment 1 from its start.
    assert coords == [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    assert feature["properties"]["step_start"] == [0, 1, 3]
    assert feature["properties"]["wait"] == [False, False, True]
    assert feature["properties"]["p_cumulative"] == pytest.approx([0.1, 0.28, 0.64])
