"""Fleet-wide coordination: a mean-field equilibrium between guided taxis and the demand.

Independent routing gives every guided taxi the same value function, so all taxis near a
hot segment head for it. Here the guided fleet is a flow: solve the MDP with the competition
known so far, propagate every guided taxi through the resulting (randomised) policy to get
its expected passes of each segment, add those passes to the competition, and re-solve —
damped, until the competition stops moving. The drivers who are not guided are propagated
once through their own habits (historical next-segment frequencies). Iterations are warm-
started from the previous refresh, so a steady fleet converges over refreshes too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from taxinav.routing.chance import find_probability
from taxinav.routing.mdp import FloatArray, IntArray, Solution, TimeGraph, propagate, solve


@dataclass(frozen=True)
class PlanConfig:
    horizon_s: float = 480.0  # look-ahead of the MDP
    route_s: float = 900.0  # length of the routes drawn (receding horizon beyond look-ahead)
    tick_s: float = 15.0
    patience_s: float = 300.0
    temperature: float = 0.2  # dollars; 0 = deterministic greedy
    # Temperature when every vacant taxi is guided (None: ``temperature``); in between, it
    # moves with the guided share of the vacant fleet (see ``Coordinator.plan``).
    fleet_temperature: float | None = None
    discount_per_min: float = 1.0
    cost_per_km: float = 0.25  # fuel and wear of empty driving, dollars
    iterations: int = 2  # mean-field rounds per refresh (warm-started across refreshes)
    damping: float = 0.5
    coordinate: bool = True
    # Value passes by what they add to the guided group's pickups, as far as guided taxis
    # make up the vacant fleet (see ``Coordinator.solve``).
    fleet_objective: bool = True
    # Hazard scale of the chances stated on routes (``reliability.py``); plans use the raw one.
    chance_scale: float = 1.0

    def temperature_at(self, guided_share: float) -> float:
        """The temperature when ``guided_share`` of the vacant fleet is guided."""
        top = self.temperature if self.fleet_temperature is None else self.fleet_temperature
        return self.temperature + (top - self.temperature) * guided_share

    @property
    def horizon_ticks(self) -> int:
        return int(round(self.horizon_s / self.tick_s))


@dataclass
class Demand:
    """Inputs of one refresh, per segment."""

    rate: FloatArray  # expected pickups per second
    fare: FloatArray  # expected fare of a ride starting there
    length_m: FloatArray
    # Optional [segment, segment] matrix: which segments' passes also take hails here (the
    # hail radius); when given, competition is pooled over it like the rate should be.
    reach: Any = None


@dataclass
class Fleet:
    """Vacant taxis when planning: the guided ones and the others, where they will decide."""

    guided_segment: IntArray
    guided_tick: IntArray
    other_segment: IntArray
    other_tick: IntArray


@dataclass
class Coordinator:
    graph: TimeGraph
    config: PlanConfig
    other_edge_probs: FloatArray | None = None  # habits of unguided drivers (None: uniform)
    guided_competition: FloatArray | None = field(default=None, repr=False)
    rounds: int = 0

    def plan(self, demand: Demand, fleet: Fleet, habits: FloatArray | None = None) -> Solution:
        """``habits``: unguided drivers' edge probabilities now (default: the constructor's)."""
        cfg, g = self.config, self.graph
        n = g.n
        habits = habits if habits is not None else self.other_edge_probs
        others = self._others(demand, fleet, habits)
        guided = self.guided_competition
        if guided is None or not cfg.coordinate:
            guided = np.zeros(n)
        n_guided = max(fleet.guided_segment.size, 1)
        n_vacant = fleet.guided_segment.size + fleet.other_segment.size
        share = fleet.guided_segment.size / n_vacant if n_vacant else 0.0
        w = share if cfg.fleet_objective else 0.0
        # A guided group that is most of the fleet shares out the same few hot segments
        # among itself, where a softer choice between near-equal moves spreads it better;
        # a small group competes with drivers it cannot steer, where a sharper one pays.
        # Chosen on 2008-05-22/23 (one seed): 100 % guided served 21,490 at $0.05, 21,778
        # at $0.10, 21,752 at $0.15, 21,572 at $0.20; 20 % guided, guided taxis' median
        # vacant time −20.5 % at $0.05, −18.9 % at $0.10 and −24.4 % rising with the share.
        temperature = cfg.temperature_at(share)
        sol = self.solve(demand, others, guided * (n_guided - 1) / n_guided, w, temperature)
        if not cfg.coordinate or fleet.guided_segment.size == 0:
            return sol
        others_share = (n_guided - 1) / n_guided  # each competes with the others, not itself
        for _ in range(cfg.iterations):
            passes = propagate(
                g, sol.p, sol.pi, cfg.horizon_ticks, fleet.guided_tick, fleet.guided_segment,
                np.ones(n_guided), sol.p_wait,
            )  # fmt: skip
            guided = (1 - cfg.damping) * guided + cfg.damping * passes / cfg.horizon_s
            sol = self.solve(demand, others, guided * others_share, w, temperature)
            self.rounds += 1
        self.guided_competition = guided
        return sol

    def solve(
        self, demand: Demand, others: FloatArray, guided: FloatArray, fleet_weight: float = 0.0,
        temperature: float | None = None,
    ) -> Solution:  # fmt: skip
        """The MDP against the passes per second of unguided (``others``) and guided taxis;
        ``fleet_weight``: how far a pass is valued for the guided group rather than the taxi;
        ``temperature``: the configured one if not given."""
        cfg, g = self.config, self.graph
        if demand.reach is not None:
            others, guided = demand.reach @ others, demand.reach @ guided
        p = find_probability(demand.rate, g.travel_s, others + guided, cfg.patience_s)
        # What a pass is worth: to the one taxi (selfish) or to the guided group (what it
        # adds, net of passengers the next guided taxi would have taken), weighed by the
        # guided share of the vacant fleet (``plan``): a small guided group mostly competes
        # with drivers outside it, a fully guided fleet only with itself. Chosen on
        # 2008-05-22/23 (one seed): 100 % guided served 21,617 passengers vs 21,232 selfish
        # (drivers' own cruising 21,047); 20 % guided, guided vs historical taxis' median
        # vacant time −25.9 % vs −20.7 % selfish (−18.5 % with the full fleet view), pickups
        # per vacant hour +31.8 % vs +30.5 % (+25.9 %). The chance of stopping there (the
        # MDP's survival) is the real one, ``p``, either way.
        gain = p
        if fleet_weight > 0:
            fleet = find_probability(demand.rate, g.travel_s, others, cfg.patience_s, guided)
            gain = fleet_weight * fleet + (1.0 - fleet_weight) * p
        reward = gain * demand.fare - cfg.cost_per_km * demand.length_m / 1000.0
        # Waiting catches only new passengers: the ones already there were found on arrival.
        p_wait = -np.expm1(-demand.rate * cfg.tick_s)
        temperature = cfg.temperature if temperature is None else temperature
        return solve(g, p, reward, cfg.horizon_ticks, temperature, p_wait,
                     p_wait * demand.fare, cfg.discount_per_min)  # fmt: skip

    def _others(self, demand: Demand, fleet: Fleet, probs: FloatArray | None) -> FloatArray:
        """Passes per second of the unguided vacant taxis, from their habits."""
        g = self.graph
        if fleet.other_segment.size == 0:
            return np.zeros(g.n)
        if probs is None:  # no habits known: any legal move alike
            probs = 1.0 / np.diff(g.succ_indptr)[g.src]
        moves = g.padded(probs)
        # Their survival uses the demand without competition: a slight overestimate of how
        # long they stay vacant, i.e. of the competition, which errs on the safe side.
        cfg = self.config
        p = find_probability(demand.rate, g.travel_s, np.zeros(g.n), cfg.patience_s)
        passes = propagate(
            g, p, moves, cfg.horizon_ticks, fleet.other_tick, fleet.other_segment,
            np.ones(fleet.other_segment.size),
        )  # fmt: skip
        return passes / cfg.horizon_s
