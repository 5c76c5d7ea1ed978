"""The demand-boost estimate against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from taxinav.sim.demand import boost_factors, boosted, meet_probability, unserved_share
from tests.sim.tiny import one_taxi, requests, ring, world


def test_meet_probability() -> None:
    # One pass every 300 s on average and 300 s of patience: 1 - e^-1.
    assert meet_probability(np.array([1 / 300]), 300.0)[0] == pytest.approx(1 - math.exp(-1))


def test_boost_pools_passes_over_reach_and_is_capped() -> None:
    net = ring(3)  # each segment reaches only itself
    passes = np.zeros((24, 3))
    passes[5] = [12.0, 0.0, 3600.0]  # over 1 day: one pass per 300 s on segment 0
    f = boost_factors(net, passes, days=1.0, patience_s=300.0, cap=3.0)
    assert f[5, 0] == pytest.approx(1 / (1 - math.exp(-1)))
    assert f[5, 1] == 3.0  # never passed: capped
    assert f[5, 2] == pytest.approx(1.0, abs=1e-6)  # passed all the time: nothing missed


def test_boost_adds_copies_of_real_hails_deterministically() -> None:
    req = requests([(100.0 * i, 0, 1, 60.0, 5.0) for i in range(200)])
    factor = np.full((24, 3), 1.5)
    a = boosted(world(ring(), req, one_taxi()), factor, np.random.default_rng(3)).requests
    b = boosted(world(ring(), req, one_taxi()), factor, np.random.default_rng(3)).requests
    assert np.array_equal(a.t, b.t)
    assert 200 + 60 < len(a) < 200 + 140  # about 100 extra (Poisson mean 0.5 each)
    assert np.all(np.diff(a.t) >= 0)
    assert set(a.segment.tolist()) == {0}


def test_unserved_share() -> None:
    # 10 observed where nothing is missed, 10 where half is missed: 20 seen of 30 → 1/3 unseen.
    assert unserved_share(np.array([10.0, 10.0]), np.array([1.0, 2.0])) == pytest.approx(1 / 3)
