"""Coordination spreads a crowd that independent routing sends to one hot segment."""

from __future__ import annotations

import numpy as np
import pytest

from taxinav.routing.coordination import Coordinator, Demand, Fleet, PlanConfig
from taxinav.routing.mdp import propagate
from taxinav.routing.recommender import FleetState, Recommender, VehicleState
from tests.routing.tiny import LENGTH_M, checker, hub

DEMAND = Demand(rate=np.array([0.0, 0.001, 0.0006]), fare=np.full(3, 10.0), length_m=LENGTH_M)


def _share_to_hot(coordinate: bool, n: int = 20) -> float:
    cfg = PlanConfig(horizon_s=60.0, tick_s=10.0, temperature=0.05, cost_per_km=0.0,
                     coordinate=coordinate, iterations=10)  # fmt: skip
    fleet = Fleet(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
                  np.array([], dtype=np.int64), np.array([], dtype=np.int64))  # fmt: skip
    sol = Coordinator(hub(), cfg).plan(DEMAND, fleet)
    _, prob = sol.choices(0, 0)
    return float(prob[0])


def test_independent_routing_herds_and_coordination_splits() -> None:
    alone, together = _share_to_hot(False), _share_to_hot(True)
    assert alone > 0.99  # every taxi to segment 1, the hotter one
    assert 0.05 < together < 0.95  # both segments used once the crowd is counted


def test_others_compete_through_their_habits() -> None:
    # A 2-tick horizon: one move. Alone, a guided taxi on the hub takes the hotter 1; with
    # ten unguided taxis there that always drive to 1, it takes 2.
    cfg = PlanConfig(horizon_s=20.0, tick_s=10.0, temperature=0.0, cost_per_km=0.0)
    habits = np.array([1.0, 0.0, 1.0, 1.0])
    alone = Fleet(np.array([0]), np.array([0]), np.array([], dtype=np.int64),
                  np.array([], dtype=np.int64))  # fmt: skip
    crowd = Fleet(np.array([0]), np.array([0]), np.zeros(10, dtype=np.int64),
                  np.zeros(10, dtype=np.int64))  # fmt: skip
    for fleet, best in ((alone, 1), (crowd, 2)):
        sol = Coordinator(hub(), cfg, other_edge_probs=habits).plan(DEMAND, fleet)
        succ, prob = sol.choices(0, 0)
        assert succ[np.argmax(prob)] == best
    # Sanity of the competition: all ten pass segment 1 once at k=0 (survival aside).
    p0 = np.zeros(3)
    assert propagate(hub(), p0, hub().padded(habits), 1, np.zeros(10, dtype=np.int64),
                     np.zeros(10, dtype=np.int64), np.ones(10))[1] == 10.0  # fmt: skip


def test_recommender_plans_routes_for_guided_taxis_only_deterministically() -> None:
    def plan() -> dict[str, list[int]]:
        rec = Recommender(hub(), checker(), PlanConfig(horizon_s=60.0, tick_s=10.0), seed=3)
        state = FleetState(
            t=120.0,
            vehicles=[VehicleState("a", 0, 5.0), VehicleState("b", 1, 0.0),
                      VehicleState("c", 0, 0.0, guided=False)],
            demand=DEMAND,
        )  # fmt: skip
        return {k: r.segments.tolist() for k, r in rec.plan(state).items()}

    first = plan()
    assert set(first) == {"a", "b"}
    assert first["b"][0] == 0  # 1 only leads back to the hub
    assert plan() == first


def test_route_eta_and_probabilities() -> None:
    rec = Recommender(hub(), checker(), PlanConfig(horizon_s=60.0, tick_s=10.0,
                                                   temperature=0.0), seed=0)  # fmt: skip
    state = FleetState(0.0, [VehicleState("a", 1, 4.0)], DEMAND)
    route = rec.plan(state)["a"]
    # From the end of 1 (4 s away): 0 (entered at 4 s, 10 s long), then 1 or 2, ...
    assert route.segments[0] == 0 and route.eta_s[0] == 4.0 and route.eta_s[1] == 14.0
    assert route.p_step[0] == 0.0
    expected = 1 - np.prod(1 - route.p_step)
    assert route.p_cumulative[-1] == expected
    assert rec.route("a") is route and rec.route("zz") is None


def test_stated_chances_are_scaled_but_routes_are_not() -> None:
    def route(kappa: float) -> tuple[list[int], np.ndarray]:
        cfg = PlanConfig(horizon_s=60.0, tick_s=10.0, temperature=0.0, chance_scale=kappa)
        r = Recommender(hub(), checker(), cfg, seed=0).plan(
            FleetState(0.0, [VehicleState("a", 1, 4.0)], DEMAND)
        )["a"]
        return r.segments.tolist(), r.p_step

    raw_segments, raw = route(1.0)
    half_segments, half = route(0.5)
    assert half_segments == raw_segments
    # A stated chance p becomes 1 − (1 − p)^½ = 1 − √(1 − p).
    np.testing.assert_allclose(half, 1 - np.sqrt(1 - raw))
    assert raw.max() > 0


def test_a_fully_guided_fleet_values_a_pass_by_what_it_adds() -> None:
    # Segment 1: λ = 0.001/s, τ = 10 s, T = 300 s, guided passes 1/300 per second, fare $10.
    # Selfish window (1 − e^(−1))·300 = 189.636 s; the fleet's T·e^(−1) = 110.364 s.
    cfg = PlanConfig(horizon_s=30.0, tick_s=10.0, patience_s=300.0, cost_per_km=0.0)
    passes, none = np.full(3, 1 / 300), np.zeros(3)
    coord = Coordinator(hub(), cfg)
    selfish = coord.solve(DEMAND, none, passes, fleet_weight=0.0)
    fleet = coord.solve(DEMAND, none, passes, fleet_weight=1.0)
    p_selfish = 1 - np.exp(-0.001 * (10 + 189.636))
    assert selfish.reward[1] == pytest.approx(10 * p_selfish, abs=1e-4)
    assert fleet.reward[1] == pytest.approx(10 * (1 - np.exp(-0.001 * (10 + 110.364))), abs=1e-4)
    # Whether the taxi stops cruising there is the real chance either way.
    assert fleet.p[1] == pytest.approx(p_selfish, abs=1e-5)
    half = coord.solve(DEMAND, none, passes, fleet_weight=0.5)
    assert half.reward[1] == pytest.approx((selfish.reward[1] + fleet.reward[1]) / 2)


def test_temperature_moves_with_the_guided_share() -> None:
    cfg = PlanConfig(horizon_s=60.0, tick_s=10.0, temperature=0.05, fleet_temperature=0.25)
    none = np.array([], dtype=np.int64)
    one, three = np.zeros(1, dtype=np.int64), np.zeros(3, dtype=np.int64)
    for fleet, share, expected in (
        (Fleet(three, three, none, none), 1.0, 0.25),  # all guided
        (Fleet(one, one, three, three), 0.25, 0.05 + 0.20 / 4),  # a quarter guided
    ):
        sol = Coordinator(hub(), cfg).plan(DEMAND, fleet)
        assert cfg.temperature_at(share) == pytest.approx(expected)
        assert sol.temperature == pytest.approx(expected)
