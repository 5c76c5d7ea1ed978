import math

import numpy as np
import pytest

from taxinav.routing.reliability import (
    Outcomes,
    fit_hazard_scale,
    log_loss,
    reliability_table,
    route_outcomes,
    scaled,
)


def test_route_outcomes_found_missed_and_censored() -> None:
    # Vehicle 1 picks up at 100 s and 500 s; vehicle 2 leaves the area at 50 s; the run ends
    # at 1,000 s.
    o = route_outcomes(
        t=np.array([0.0, 100.0, 0.0, 900.0, 0.0]),
        vehicle=np.array([1, 1, 2, 1, 3]),
        duration_s=np.array([200.0, 300.0, 100.0, 300.0, 60.0]),
        p=np.full(5, 0.5),
        pickup_t=np.array([500.0, 100.0]), pickup_vehicle=np.array([1, 1]),
        leave_t=np.array([50.0]), leave_vehicle=np.array([2]), end_s=1000.0,
    )  # fmt: skip
    # found by 200 s; next pickup after 100 s is at 500 s > 400 s (a miss); left before its
    # route ended; route ends after the run; nothing happened to vehicle 3 (a miss).
    assert o.found.tolist() == [True, False, False, False, False]
    assert o.known.tolist() == [True, True, False, False, True]


def _outcomes(p: list[float], found: list[bool]) -> Outcomes:
    return Outcomes(np.array(p), np.ones(len(p), dtype=bool), np.array(found))


def test_log_loss_by_hand() -> None:
    o = _outcomes([0.5, 0.8], [True, False])
    assert log_loss(o) == pytest.approx((math.log(2) + math.log(5)) / 2)


def test_hazard_scale_matches_a_single_chance() -> None:
    # Four routes stated at 1/2, one found: 1 − (1/2)^κ = 1/4 at the maximum likelihood.
    o = _outcomes([0.5] * 4, [True, False, False, False])
    kappa = fit_hazard_scale(o)
    assert kappa == pytest.approx(math.log(0.75) / math.log(0.5), rel=1e-4)
    assert scaled(np.array([0.5]), kappa)[0] == pytest.approx(0.25, rel=1e-4)


def test_reliability_table_bins() -> None:
    rows = reliability_table(_outcomes([0.1, 0.3, 0.35, 0.97], [False, True, False, True]))
    assert [(r["lo"], r["n"]) for r in rows] == [(0.0, 1), (0.2, 2), (0.95, 1)]
    assert rows[1]["stated"] == pytest.approx(0.325)
    assert rows[1]["found"] == pytest.approx(0.5)
    assert rows[2]["found"] == 1.0
