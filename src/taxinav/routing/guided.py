"""The recommender as a simulator policy: guided taxis drive their recommended routes.

Every ``refresh_s`` the simulator shows the policy all vacant taxis (``observe``); the
recommender plans for the policy's own group, counting the others as competition. Between
refreshes a taxi follows its route; off it (it has just dropped a passenger, or the route
ran out) it draws its next move from the latest solution's policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from taxinav.routing.coordination import Demand
from taxinav.routing.recommender import FleetState, Recommender, VehicleState


class GuidedPolicy:
    def __init__(self, recommender: Recommender, demand_at: Callable[[float], Demand],
                 habits_at: Callable[[float], NDArray[np.float64] | None] | None = None,
                 refresh_s: float = 60.0, name: str = "guided") -> None:  # fmt: skip
        self.recommender = recommender
        self.demand_at = demand_at
        self.habits_at = habits_at
        self.refresh_s = refresh_s
        self.name = name
        self.wait_s = recommender.graph.tick_s  # a planned wait lasts one tick
        self.last_plan = -np.inf
        self.plan_seconds: list[float] = []
        # Per route served: when, for which vehicle, over how long and with what chance of a
        # passenger it was stated (``reliability.py`` checks them against the run).
        self.stated: list[tuple[float, int, float, float]] = []
        self._route: dict[int, list[int]] = {}

    def observe(self, t: float, vehicle: NDArray[np.int64], segment: NDArray[np.int64],
                remaining: NDArray[np.float64], mine: NDArray[np.bool_]) -> None:  # fmt: skip
        """All vacant, uncommitted taxis at ``t``; ``mine`` marks this policy's group."""
        if t - self.last_plan < self.refresh_s or not mine.any():
            return
        started = time.perf_counter()
        self.last_plan = t
        state = FleetState(
            t=t,
            vehicles=[
                VehicleState(str(v), int(s), float(r), bool(m))
                for v, s, r, m in zip(vehicle, segment, remaining, mine, strict=True)
            ],
            demand=self.demand_at(t),
            habits=self.habits_at(t) if self.habits_at is not None else None,
        )
        routes = self.recommender.plan(state)
        self._route = {int(v): r.segments.tolist()[::-1] for v, r in routes.items()}
        self.stated += [
            (t, int(v), r.duration_s, float(r.p_cumulative[-1]) if r.segments.size else 0.0)
            for v, r in routes.items()
        ]
        self.plan_seconds.append(time.perf_counter() - started)

    def choose(self, vehicle: int, segment: int, t: float, rng: np.random.Generator) -> int:
        rec = self.recommender
        g = rec.graph
        succ = g.succ_indices[g.succ_indptr[segment] : g.succ_indptr[segment + 1]]
        planned = self._route.get(vehicle)
        if planned:
            nxt = planned.pop()
            if nxt in succ or nxt == segment:  # the same segment: wait there
                return nxt
            self._route.pop(vehicle, None)
        sol = rec.solution
        if sol is None:
            return int(succ[rng.integers(succ.shape[0])])
        options, prob = sol.choices(0, segment)  # receding horizon: full look-ahead
        return int(options[rng.choice(options.shape[0], p=prob)])
