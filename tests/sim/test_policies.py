"""Policies and world details on tiny networks with known answers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from taxinav.sim import Hotspot, Network, RandomWalk, demand_gradient
from taxinav.sim.learned import HistoricalBehaviour, _transitions, _wait_probability
from tests.sim.tiny import one_taxi, requests, ring, world


def _fork() -> Network:
    """0 → 1 or 2; 1 → 0; 2 → 0."""
    return Network(
        succ_indptr=np.array([0, 2, 3, 4]), succ_indices=np.array([1, 2, 0, 0]),
        travel_s=np.array([10.0, 10.0, 10.0]), length_m=np.array([100.0, 100.0, 100.0]),
        near_indptr=np.arange(4), near_indices=np.arange(3),
    )  # fmt: skip


def test_demand_gradient_by_hand() -> None:
    # rate (0, 1, 0); discount 0.5; V = rate + 0.5 max succ V, at the fixed point:
    # V1 = 1 + 0.5 V0, V2 = 0.5 V0, V0 = 0.5 max(V1, V2) = 0.5 V1
    # → V0 = 0.5 + 0.25 V0 → V0 = 2/3, V1 = 4/3, V2 = 1/3.
    v = demand_gradient(_fork(), np.array([0.0, 1.0, 0.0]), discount=0.5, sweeps=60)
    assert v == pytest.approx([2 / 3, 4 / 3, 1 / 3])


def test_hotspot_heads_for_demand() -> None:
    rate = np.zeros((24, 3))
    rate[:, 2] = 5.0
    policy = Hotspot(_fork(), rate)
    rng = np.random.default_rng(0)
    assert {policy.choose(0, 0, 100.0, rng) for _ in range(20)} == {2}


def test_random_walk_only_makes_legal_moves() -> None:
    policy, rng = RandomWalk(_fork()), np.random.default_rng(1)
    picks = [policy.choose(0, 0, 0.0, rng) for _ in range(200)]
    assert set(picks) == {1, 2}
    assert 60 < picks.count(1) < 140


def test_historical_follows_observed_transitions_and_waits() -> None:
    net = _fork()
    # Observed in block 0: from 0 always to 2 (3 times); extra dwell on 0 of 60 s on average.
    s = np.array([0, 0, 0])
    block = np.array([0, 0, 0])
    nxt = np.array([2, 2, 2])
    trans = _transitions(s, block, nxt)
    p_wait = _wait_probability(net, s, block, np.array([60.0, 60.0, 60.0]))
    # Shrunk mean extra on segment 0 = (180 + 5 × 60) / (3 + 5) = 60 s → p = 60 / 120.
    assert p_wait[0, 0] == 0.5
    policy = HistoricalBehaviour(net, trans, np.zeros_like(p_wait))
    rng = np.random.default_rng(0)
    assert {policy.choose(0, 0, 0.0, rng) for _ in range(20)} == {2}
    waiting = HistoricalBehaviour(net, trans, np.ones_like(p_wait))
    assert waiting.choose(0, 0, 0.0, rng) == 0  # p = 1: stays (waits)


def test_speed_factor_slows_travel_by_hour() -> None:
    w = world(ring(), requests([]), one_taxi())
    slow = dataclasses.replace(w, speed_factor=np.array([0.5, 1.0]))
    assert slow.travel_s(0, 10.0) == 60.0
    assert slow.travel_s(0, 3700.0) == 30.0
    assert slow.travel_s(0, 99_999.0) == 30.0  # past the last hour: the last factor


def test_aggregated_moves_learn_what_the_single_moves_learn() -> None:
    net = _fork()
    # Moves 0→2 (block 0) twice with 30 s and 90 s extra, 0→1 (block 1) once with 0 s:
    # as single rows or as rows (move, block, count, summed extra).
    single = (np.array([0, 0, 0]), np.array([0, 0, 1]), np.array([2, 2, 1]))
    grouped = (np.array([0, 0]), np.array([0, 1]), np.array([2, 1]))
    one = _transitions(*single)
    agg = _transitions(*grouped, np.array([2.0, 1.0]))
    assert one.keys() == agg.keys() == {(0, 0), (1, 0), (-1, 0)}
    for k in one:
        assert one[k][0].tolist() == agg[k][0].tolist()
        assert one[k][1].tolist() == agg[k][1].tolist()
    assert agg[(-1, 0)][1].tolist() == [1.0, 3.0]  # to 1 once, to 2 twice
    p1 = _wait_probability(net, *single[:2], np.array([30.0, 90.0, 0.0]))
    p2 = _wait_probability(net, *grouped[:2], np.array([120.0, 0.0]), np.array([2.0, 1.0]))
    # Block 0 on segment 0: mean extra (120 + 5 × 60) / (2 + 5) = 60 s → p = 0.5.
    assert p2[0, 0] == p1[0, 0] == 0.5
    assert np.array_equal(p1, p2)
