"""The recommender driving simulated taxis on a tiny world."""

from __future__ import annotations

import numpy as np

from taxinav.guidance.policy import GuidedPolicy
from taxinav.routing.coordination import Demand, PlanConfig
from taxinav.routing.recommender import Recommender
from taxinav.sim import Network, RandomWalk, SimConfig, Simulation
from tests.routing.tiny import LENGTH_M, SUCC_INDICES, SUCC_INDPTR, TRAVEL_S, checker, hub
from tests.sim.tiny import one_taxi, requests, world


def _network() -> Network:
    return Network(
        succ_indptr=SUCC_INDPTR, succ_indices=SUCC_INDICES, travel_s=TRAVEL_S,
        length_m=LENGTH_M, near_indptr=np.arange(4), near_indices=np.arange(3),
    )  # fmt: skip


def test_guided_taxis_drive_legal_routes_towards_demand() -> None:
    # Demand only on segment 2: from the hub a guided taxi always turns into 2.
    demand = Demand(np.array([0.0, 0.0, 0.01]), np.full(3, 10.0), LENGTH_M)
    rec = Recommender(hub(), checker(), PlanConfig(horizon_s=60.0, tick_s=10.0,
                                                   temperature=0.0))  # fmt: skip
    policy = GuidedPolicy(rec, lambda t: demand, refresh_s=30.0)
    w = world(_network(), requests([(200.0, 2, 0, 60.0, 9.0)]), one_taxi(), horizon_s=400.0)
    log = Simulation(w, [policy, RandomWalk(w.network)], np.zeros(1, dtype=np.int64),
                     SimConfig()).run().table()  # fmt: skip
    kinds, segs = log["kind"].to_pylist(), log["segment"].to_pylist()
    assert "pickup" in kinds
    first = kinds.index("pickup")
    moves = [s for k, s in zip(kinds[:first], segs[:first], strict=True) if k == "move"]
    legal = {(0, 1), (0, 2), (1, 0), (2, 0)}
    assert moves and all(p in legal for p in zip([0, *moves], moves, strict=False))
    assert 1 not in moves  # never the empty branch while searching
    assert len(policy.plan_seconds) >= 1 and not rec.checker.failures
