"""A three-segment graph small enough to solve by hand.

Segment 0 is a hub: 0 → {1, 2}; 1 → 0; 2 → 0. With 10-second ticks, segments 0 and 1 take
one tick and segment 2 takes two.
"""

from __future__ import annotations

import numpy as np

from taxinav.routing.mdp import TimeGraph
from taxinav.routing.route import RouteChecker

SUCC_INDPTR = np.array([0, 2, 3, 4])
SUCC_INDICES = np.array([1, 2, 0, 0])
TRAVEL_S = np.array([10.0, 10.0, 20.0])
LENGTH_M = np.array([100.0, 100.0, 200.0])


def hub() -> TimeGraph:
    return TimeGraph.build(SUCC_INDPTR, SUCC_INDICES, TRAVEL_S, tick_s=10.0)


def checker(inside: list[bool] | None = None) -> RouteChecker:
    return RouteChecker(SUCC_INDPTR, SUCC_INDICES, LENGTH_M, np.array(inside or [True, True, True]))
