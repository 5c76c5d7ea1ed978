"""Backward induction and flow propagation on the hub graph, computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from taxinav.routing.mdp import (
    TimeGraph,
    _rollout_one,
    _rollouts_together,
    propagate,
    rollout,
    solve,
)
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
    passes = propagate(g, np.array([0.0, 0.5, 0.0]), g.padded(np.array([0.5, 0.5, 1.0, 1.0])), 3,
                       np.array([0]), np.array([0]), np.array([1.0]))  # fmt: skip
    assert passes.tolist() == pytest.approx([0.75, 0.625, 0.625])


def test_rollout_follows_the_greedy_policy() -> None:
    sol = solve(hub(), np.zeros(3), np.array([0.0, 1.0, 3.0]), 3, temperature=0.0)
    segs, starts = rollout(sol, 0, 0.0, np.random.default_rng(0))
    # k=0 → 1 (enters at 0 s), k=1 → 0 (10 s), k=2 → 2 (20 s); then the 30-s horizon.
    assert segs.tolist() == [1, 0, 2] and starts.tolist() == [0.0, 10.0, 20.0]


def test_padded_layout_of_the_moves() -> None:
    g = hub()
    # [slot, segment]: first moves of 0, 1, 2; then the second moves (only 0 has one); then
    # "wait here", allowed nowhere by default.
    assert g.pad.tolist() == [[1, 0, 0], [2, 0, 0], [0, 1, 2]]
    assert g.mask.tolist() == [[True, True, True], [True, False, False], [False] * 3]
    assert g.padded(np.array([0.3, 0.7, 1.0, 1.0])).tolist() == [
        [0.3, 1, 1],
        [0.7, 0, 0],
        [0, 0, 0],
    ]


def test_a_segment_without_successor_is_refused() -> None:
    with pytest.raises(ValueError, match="segment 2 has no legal successor"):
        TimeGraph.build(np.array([0, 1, 2, 2]), np.array([1, 2]), TRAVEL_S, 10.0)
    assert SUCC_INDICES.shape[0] == SUCC_INDPTR[-1]


def test_waiting_where_allowed_by_hand() -> None:
    # Only segment 1 allows waiting: a tick there finds a passenger with chance 0.5 ($10).
    # k=1 on 1: wait = 5 + 0.5 · V2(1) = 5 beats driving to 0 (0). k=0 on 1: wait =
    # 5 + 0.5 · 5 = 7.5.
    g = TimeGraph.build(SUCC_INDPTR, SUCC_INDICES, TRAVEL_S, 10.0,
                        can_wait=np.array([False, True, False]))  # fmt: skip
    p_wait = np.array([0.5, 0.5, 0.5])
    sol = solve(g, np.zeros(3), np.zeros(3), 2, 0.0, p_wait, p_wait * 10.0)
    assert sol.value[1].tolist() == [0.0, 5.0, 0.0]
    assert sol.value[0, 1] == pytest.approx(7.5)
    succ, prob = sol.choices(0, 1)
    assert succ.tolist() == [0, 1] and prob.tolist() == [0.0, 1.0]
    # Segment 0 may not wait even though waiting would pay there too.
    assert sol.choices(0, 0)[0].tolist() == [1, 2]
    # The drawn route waits two ticks on 1.
    segs, starts = rollout(sol, 1, 0.0, np.random.default_rng(0))
    assert segs.tolist() == [1, 1] and starts.tolist() == [0.0, 10.0]


def test_a_waiting_tick_counts_as_a_pass_and_keeps_the_taxi_there() -> None:
    g = TimeGraph.build(SUCC_INDPTR, SUCC_INDICES, TRAVEL_S, 10.0,
                        can_wait=np.array([False, True, False]))  # fmt: skip
    stay = np.zeros(g.pad.shape)
    stay[-1, 1] = 1.0  # on 1: always wait
    stay[0, 0] = stay[0, 2] = 1.0
    # Waiting 3 ticks on 1 with chance 0.5 each: 1 + 0.5 + 0.25 passes.
    passes = propagate(g, np.zeros(3), stay, 3, np.array([0]), np.array([1]), np.array([1.0]),
                       np.array([0.0, 0.5, 0.0]))  # fmt: skip
    assert passes.tolist() == pytest.approx([0.0, 1.75, 0.0])


def test_a_discount_values_sooner_fares_more() -> None:
    # γ = 0.5 per minute: a 10-s tick is worth 0.5^(1/6). With the rewards of the first
    # test: k=1: q(0) = γ1 · V2(0) = 3 γ1, so V1(1) = 3 γ1; k=0: q(1) = 1 + γ1 · 3 γ1.
    g1 = 0.5 ** (10 / 60)
    sol = solve(hub(), np.zeros(3), np.array([0.0, 1.0, 3.0]), 3, 0.0, discount_per_min=0.5)
    assert sol.q[1, 0] == pytest.approx(3 * g1)
    assert sol.q[0, 1] == pytest.approx(1 + 3 * g1 * g1)
    assert sol.q[0, 2] == pytest.approx(3.0)  # 3 + γ2 · V2(2) with V2(2) = 0


@pytest.mark.parametrize("receding", [False, True])
def test_one_route_is_drawn_exactly_as_routes_drawn_together(receding: bool) -> None:
    # A softmax policy with waiting on segment 1: every slot, the wait and the time-dependent
    # policy are exercised. One taxi stepped in Python must make the very same draws as the
    # vectorised loop run for that taxi alone.
    g = TimeGraph.build(SUCC_INDPTR, SUCC_INDICES, TRAVEL_S, tick_s=10.0,
                        can_wait=np.array([False, True, False]))  # fmt: skip
    p, reward = np.array([0.1, 0.3, 0.2]), np.array([0.5, 1.0, 3.0])
    p_wait, wait_reward = np.array([0.0, 0.4, 0.0]), np.array([0.0, 2.0, 0.0])
    sol = solve(g, p, reward, 12, temperature=1.0, p_wait=p_wait, wait_reward=wait_reward)
    for seed in range(40):
        seg, start = seed % 3, float(seed % 7)
        one = _rollout_one(sol, seg, start, np.random.default_rng(seed), 110.0, receding)
        together = _rollouts_together(sol, np.array([seg]), np.array([start]),
                                      np.random.default_rng(seed), 110.0, receding)[0]  # fmt: skip
        assert one[0].tolist() == together[0].tolist()
        assert one[1].tolist() == together[1].tolist()
        assert len(one[0]) > 3
