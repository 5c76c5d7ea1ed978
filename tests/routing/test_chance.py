from __future__ import annotations

import math

import numpy as np
import pytest

from taxinav.routing.chance import find_probability, fleet_window_s, waiting_window_s


def test_without_competition_a_passenger_waits_the_whole_patience() -> None:
    got = find_probability(np.array([0.01]), np.array([30.0]), np.array([0.0]), 300.0)
    assert got[0] == pytest.approx(1 - math.exp(-0.01 * 330))


def test_competition_shortens_the_window() -> None:
    # m = 0.01 passes/s, T = 300 s: (1 − e^−3) / 0.01 = 95.02 s.
    assert waiting_window_s(np.array([0.01]), 300.0)[0] == pytest.approx((1 - math.exp(-3)) / 0.01)
    got = find_probability(np.array([0.01]), np.array([30.0]), np.array([0.01]), 300.0)
    assert got[0] == pytest.approx(1 - math.exp(-0.01 * (30 + (1 - math.exp(-3)) / 0.01)))


def test_no_demand_no_chance() -> None:
    assert find_probability(np.zeros(2), np.full(2, 30.0), np.zeros(2), 300.0).tolist() == [0, 0]


def test_the_fleet_window_counts_only_what_a_pass_adds() -> None:
    # T = 300 s, one pass per 300 s (m·T = 1). All of it guided: T·e^(−1) = 110.364 s, well
    # below the selfish (1 − e^(−1))·T = 189.636 s. Half guided: the mean of the two.
    m = np.array([1 / 300])
    assert fleet_window_s(np.zeros(1), m, 300.0)[0] == pytest.approx(110.3638, abs=1e-3)
    assert fleet_window_s(m, np.zeros(1), 300.0)[0] == pytest.approx(189.6362, abs=1e-3)
    assert fleet_window_s(m / 2, m / 2, 300.0)[0] == pytest.approx(150.0, abs=1e-3)
    # An empty segment: the whole patience, either way.
    assert fleet_window_s(np.zeros(1), np.zeros(1), 300.0)[0] == 300.0
