"""Backward induction and flow propagation on the hub graph, computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from taxinav.routing.mdp import TimeGraph, propagate, rollout, solve
from tests.routing.tiny import SUCC_INDICES, SUCC_INDPTR, TRAVEL_S, hub


def test_value_iteration_by_hand() -> None:
    # Rewards 0, 1, 3; no passenger ever ends the search (p = 0); horizon 3 ticks.
    # k=2: q = [0, 1, 3]; V2 = [3, 0, 0].  k=1: q = [3, 1, 3]; V1 = [3, 3, 3].
    # k=0: q = [0 + V1(0), 1 + V1(1), 3 + V2(2)] = [3, 4, 3]; V0(0) = 4 via segment 1:
    # the richer segment 2 takes two ticks and leaves no time for more.
    sol = solve(hub(), np.zeros(3), np.array([0.0, 1.0, 3.0]), 3, temperature=0.0)
    assert sol.q[2].tolist() == [0.0, 1.0, 3.0]
    assert sol.q[1].tolist() == [3.0, 1.0, 3.0]
    assert sol.q[0].tolist() == [3.0, 4.0, 3.0]
    assert sol.value[0].tolist() == [4.0, 3.0, 3.0]
    succ, prob = sol.choices(0, 0)
    assert succ.tolist() == [1, 2] and prob.tolist() == [1.0, 0.0]


def test_a_passenger_found_ends_the_search() -> None:
    # p(1) = 0.5: at k=1, q(1) = 1 + 0.5 · V2(1) = 1; at k=0, q(1) = 1 + 0.5 · V1(1) = 2.5.
    sol = solve(hub(), np.array([0.0, 0.5, 0.0]), np.array([0.0, 1.0, 3.0]), 3, 0.0)
    assert sol.q[0, 1] == pytest.approx(2.5)
    assert sol.value[0, 0] == pytest.approx(3.0)  # now segment 2 is as good (3 + 0)


def test_temperature_spreads_choices_by_softmax() -> None:
    sol = solve(hub(), np.zeros(3), np.array([0.0, 1.0, 3.0]), 3, temperature=1.0)
    _, prob = sol.choices(2, 0)  # q = [1, 3] → e^1 / (e^1 + e^3)
    assert prob[0] == pytest.approx(np.exp(1) / (np.exp(1) + np.exp(3)))
    # V is the value of that randomised policy, not the maximum.
    assert sol.value[2, 0] == pytest.approx(prob[0] * 1 + prob[1] * 3)


def test_propagation_of_a_fixed_policy_by_hand() -> None:
    # From 0: half to 1, half to 2. p(1) = 0.5. One taxi finishing 0 at tick 0, 3 ticks.
    # k=0: enters 1 (0.5) and 2 (0.5); 0.25 survives on 1 (done at k=1), 0.5 on 2 (k=2).
    # k=1: 0.25 enters 0 (done at k=2). k=2: from 0, 0.125 each to 1 and 2; 0.5 enters 0.
    g = hub()
    passes = propagate(g, np.array([0.0, 0.5, 0.0]), np.array([0.5, 0.5, 1.0, 1.0]), 3,
                       np.array([0]), np.array([0]), np.array([1.0]))  # fmt: skip
    assert passes.tolist() == pytest.approx([0.75, 0.625, 0.625])


def test_rollout_follows_the_greedy_policy() -> None:
    sol = solve(hub(), np.zeros(3), np.array([0.0, 1.0, 3.0]), 3, temperature=0.0)
    segs, ticks = rollout(sol, 0, 0, np.random.default_rng(0))
    # k=0 → 1 (enters at tick 0), k=1 → 0, k=2 → 2; then the horizon is reached.
    assert segs.tolist() == [1, 0, 2] and ticks.tolist() == [0, 1, 2]


def test_a_segment_without_successor_is_refused() -> None:
    with pytest.raises(ValueError, match="segment 2 has no legal successor"):
        TimeGraph.build(np.array([0, 1, 2, 2]), np.array([1, 2]), TRAVEL_S, 10.0)
    assert SUCC_INDICES.shape[0] == SUCC_INDPTR[-1]
