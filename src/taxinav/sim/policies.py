"""Cruising policies: given a vacant taxi at the end of a segment, choose what to do next.

A policy returns the next segment, which must be a legal successor, or the current segment to
wait there for ``WAIT_S`` seconds (or the policy's own ``wait_s``) before choosing again.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from taxinav.sim.world import Network

WAIT_S = 60.0


class Policy(Protocol):
    """May also define ``observe(view: FleetView)``: the engine then shows it the vacant
    fleet and the event log each tick (``sim.engine.FleetView``)."""

    name: str

    def choose(self, vehicle: int, segment: int, t: float, rng: np.random.Generator) -> int:
        """Next segment for ``vehicle`` finishing ``segment`` at time ``t``."""
        ...


class RandomWalk:
    """Uniformly random legal move."""

    name = "random"

    def __init__(self, network: Network) -> None:
        self.network = network

    def choose(self, vehicle: int, segment: int, t: float, rng: np.random.Generator) -> int:
        succ = self.network.successors(segment)
        return int(succ[rng.integers(succ.shape[0])])


def demand_gradient(
    network: Network, rate: NDArray[np.float64], discount: float = 0.8, sweeps: int = 20
) -> NDArray[np.float64]:
    """V(s) = rate(s) + discount · max over successors V: high where demand is near ahead."""
    value = rate.copy()
    src = np.repeat(np.arange(network.n_segments), np.diff(network.succ_indptr))
    for _ in range(sweeps):
        best = np.full(network.n_segments, -np.inf)
        np.maximum.at(best, src, value[network.succ_indices])
        value = rate + discount * best
    return value


class Hotspot:
    """Greedy: always take the successor with the most forecast demand ahead of it.

    ``rate_by_hour[h, s]`` is the expected pickups per hour on segment s in hour h (local).
    ``on_day`` places the simulated times in the local day (t = 0 is local midnight until
    then).
    """

    name = "hotspot"

    def __init__(self, network: Network, rate_by_hour: NDArray[np.float64]):
        self.network = network
        self.value = np.stack([demand_gradient(network, r) for r in rate_by_hour])
        self.origin_hour = 0  # local hour at t = 0

    def on_day(self, origin: datetime, tz: ZoneInfo) -> Hotspot:
        """The same policy for a day whose t = 0 is ``origin`` (its hour read in ``tz``)."""
        out = copy.copy(self)
        out.origin_hour = origin.astimezone(tz).hour
        return out

    def choose(self, vehicle: int, segment: int, t: float, rng: np.random.Generator) -> int:
        hour = (self.origin_hour + int(t // 3600)) % 24
        succ = self.network.successors(segment)
        v = self.value[hour, succ]
        best = np.flatnonzero(v == v.max())
        return int(succ[best[rng.integers(best.shape[0])]])
