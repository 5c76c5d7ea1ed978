"""The recommender: coordinated routes for every vacant guided taxi, checked before serving."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from taxinav.routing.coordination import Coordinator, Demand, Fleet, PlanConfig
from taxinav.routing.mdp import FloatArray, Solution, TimeGraph, rollouts
from taxinav.routing.reliability import scaled
from taxinav.routing.route import Route, RouteChecker


@dataclass(frozen=True)
class VehicleState:
    vehicle_id: str
    segment: int
    remaining_s: float = 0.0  # seconds until it reaches the end of ``segment``
    guided: bool = True  # False: a vacant taxi that competes but gets no route


@dataclass(frozen=True)
class FleetState:
    t: float  # seconds on the caller's clock; routes are drawn with it as part of the seed
    vehicles: list[VehicleState]
    demand: Demand
    habits: FloatArray | None = None  # unguided drivers' edge probabilities now, if known


@dataclass
class Recommender:
    graph: TimeGraph
    checker: RouteChecker
    config: PlanConfig = field(default_factory=PlanConfig)
    other_edge_probs: FloatArray | None = None
    seed: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    solution: Solution | None = None
    plan_t: float = 0.0

    def __post_init__(self) -> None:
        self.coordinator = Coordinator(self.graph, self.config, self.other_edge_probs)

    def plan(self, state: FleetState) -> dict[str, Route]:
        """Routes for every guided vacant vehicle in ``state`` (those failing a safety check
        are left out, counted in ``checker.failures``)."""
        guided = [v for v in state.vehicles if v.guided]
        others = [v for v in state.vehicles if not v.guided]
        fleet = Fleet(
            guided_segment=np.array([v.segment for v in guided], dtype=np.int64),
            guided_tick=self._ticks(guided),
            other_segment=np.array([v.segment for v in others], dtype=np.int64),
            other_tick=self._ticks(others),
        )
        sol = self.coordinator.plan(state.demand, fleet, state.habits)
        self.solution, self.plan_t = sol, state.t
        rng = np.random.default_rng([self.seed, int(state.t)])
        # A vehicle still busy with its segment when the route would end gets its first move.
        start = np.array([min(v.remaining_s, self.config.route_s - 1.0) for v in guided])
        drawn = rollouts(sol, fleet.guided_segment, start, rng, until_s=self.config.route_s,
                         receding=True)  # fmt: skip
        routes: dict[str, Route] = {}
        for v, (segs, _) in zip(guided, drawn, strict=True):
            route = self._route(sol, v, segs)
            if self.checker.admit(route):
                routes[v.vehicle_id] = route
        self.routes = routes
        return routes

    def route(self, vehicle_id: str) -> Route | None:
        """The vehicle's route from the latest plan (None if it was not vacant or guided)."""
        return self.routes.get(vehicle_id)

    def reroute(self, v: VehicleState, t: float) -> Route | None:
        """A fresh route for one vehicle from the latest plan (its position moved since):
        drawn from the same coordinated solution, so it still avoids the others' targets."""
        if self.solution is None:
            return None
        rng = np.random.default_rng([self.seed, int(t), zlib.crc32(v.vehicle_id.encode())])
        start = np.array([min(v.remaining_s, self.config.route_s - 1.0)])
        drawn = rollouts(self.solution, np.array([v.segment], dtype=np.int64), start, rng,
                         until_s=self.config.route_s, receding=True)  # fmt: skip
        route = self._route(self.solution, v, drawn[0][0])
        if not self.checker.admit(route):
            return None
        self.routes[v.vehicle_id] = route
        return route

    def _ticks(self, vehicles: list[VehicleState]) -> np.ndarray:
        """The tick at which each vehicle next decides."""
        rem = np.array([v.remaining_s for v in vehicles], dtype=np.float64)
        ticks = np.ceil(rem / self.config.tick_s - 1e-9).astype(np.int64)
        return ticks.clip(0, self.config.horizon_ticks)

    def _route(self, sol: Solution, v: VehicleState, segs: np.ndarray) -> Route:
        wait = segs == np.r_[v.segment, segs[:-1]]
        step_s = np.where(wait, self.graph.tick_s, self.graph.travel_s[segs])
        eta = v.remaining_s + np.concatenate([[0.0], np.cumsum(step_s)[:-1]])
        return Route(
            vehicle_id=v.vehicle_id, start_segment=v.segment, segments=segs, eta_s=eta,
            p_step=scaled(np.where(wait, sol.p_wait[segs], sol.p[segs]),
                          self.config.chance_scale),
            length_m=float(self.checker.length_m[segs[~wait]].sum()),
            duration_s=float(eta[-1] + step_s[-1]) if segs.size else 0.0,
        )  # fmt: skip
