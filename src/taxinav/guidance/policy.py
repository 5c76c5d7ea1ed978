"""The recommender as a simulator policy: guided taxis drive their recommended routes.

Every ``refresh_s`` the planner plans for its own group from what a deployed service would
know (``telemetry.FixStream``: each vacant taxi's last fix on its segment, no time left on
it, no simulator internals), counting the other vacant taxis as competition. Between
refreshes a taxi follows its route, picked up again where its real position is on it; off it
(it has just dropped a passenger, or the route ran out) it draws its next move from the
latest solution's policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from taxinav.guidance.telemetry import FixStream
from taxinav.routing.coordination import Demand
from taxinav.routing.recommender import FleetState, Recommender, VehicleState
from taxinav.sim.engine import FleetView


class GuidedPolicy:
    def __init__(self, recommender: Recommender, demand_at: Callable[[float], Demand],
                 habits_at: Callable[[float], NDArray[np.float64] | None] | None = None,
                 refresh_s: float = 60.0, name: str = "guided", stream: FixStream | None = None,
                 demand_label: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.recommender = recommender
        self.demand_at = demand_at
        self.habits_at = habits_at
        self.refresh_s = refresh_s
        self.name = name
        self.stream = stream  # None: the planner sees the simulator's exact positions
        self.demand_label = demand_label or {}
        self.wait_s = recommender.graph.tick_s  # a planned wait lasts one tick
        self.last_plan = -np.inf
        self.plan_seconds: list[float] = []
        # Per route served: when, for which vehicle, over how long and with what chance of a
        # passenger it was stated (``reliability.py`` checks them against the run).
        self.stated: list[tuple[float, int, float, float]] = []
        self._route: dict[int, list[int]] = {}
        self._guided: set[int] = set()  # vehicles known to follow guidance (their flag)

    def observe(self, view: FleetView) -> None:
        """Take in the tick's telemetry; every ``refresh_s``, plan for the group."""
        if self.stream is not None:
            self.stream.update(view)
        self._guided.update(view.vehicle[view.mine].tolist())
        if view.t - self.last_plan < self.refresh_s or not view.mine.any():
            return
        started = time.perf_counter()
        self.last_plan = t = view.t
        habits = self.habits_at(t) if self.habits_at else None
        routes = self.recommender.plan(FleetState(t, self._fleet(view), self.demand_at(t), habits))
        self._route = {int(v): r.segments.tolist()[::-1] for v, r in routes.items()}
        self.stated += [
            (t, int(v), r.duration_s, float(r.p_cumulative[-1]) if r.segments.size else 0.0)
            for v, r in routes.items()
        ]
        self.plan_seconds.append(time.perf_counter() - started)

    def _fleet(self, view: FleetView) -> list[VehicleState]:
        if self.stream is None:
            free = ~view.committed
            return [VehicleState(str(v), int(s), float(r), bool(m)) for v, s, r, m in
                    zip(view.vehicle[free], view.segment[free], view.remaining[free],
                        view.mine[free], strict=True)]  # fmt: skip
        vehicle, segment = self.stream.vacant_fleet(view.t)
        half = self.recommender.graph.travel_s[segment] / 2.0  # where on it is unknown
        return [VehicleState(str(v), int(s), float(h), v in self._guided)
                for v, s, h in zip(vehicle.tolist(), segment.tolist(), half.tolist(),
                                   strict=True)]  # fmt: skip

    def choose(self, vehicle: int, segment: int, t: float, rng: np.random.Generator) -> int:
        rec = self.recommender
        g = rec.graph
        succ = g.succ_indices[g.succ_indptr[segment] : g.succ_indptr[segment + 1]]
        planned = self._route.get(vehicle)
        if planned and planned[-1] not in succ and planned[-1] != segment and segment in planned:
            # The plan started from a fix a little behind: carry on from where the taxi is
            # (its first pass of this segment; the list is reversed).
            del planned[len(planned) - 1 - planned[::-1].index(segment) :]
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
