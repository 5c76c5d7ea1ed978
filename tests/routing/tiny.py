"""Hand-built graphs small enough to check by hand.

``hub``: segment 0 is a hub: 0 → {1, 2}; 1 → 0; 2 → 0. With 10-second ticks, segments 0 and 1
take one tick and segment 2 takes two.

``TRIANGLE``: corners A, B, C in San Francisco; A→B and B→C are one-way, C–A is two-way.
Segments 0: A→B, 1: B→C, 2: C→A, 3: A→C. Moves: 0 → 1, 1 → 2, 2 → 0 (the U-turn onto 3 is
not allowed), 3 → 2 (C is a dead end for 3: the U-turn is the only way on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from taxinav.routing.mdp import FloatArray, IntArray, TimeGraph
from taxinav.routing.route import RouteChecker, RouteLimits

SUCC_INDPTR = np.array([0, 2, 3, 4])
SUCC_INDICES = np.array([1, 2, 0, 0])
TRAVEL_S = np.array([10.0, 10.0, 20.0])
LENGTH_M = np.array([100.0, 100.0, 200.0])


def hub() -> TimeGraph:
    return TimeGraph.build(SUCC_INDPTR, SUCC_INDICES, TRAVEL_S, tick_s=10.0)


# On three segments every second step passes the hub, so a recommender's 900-second route
# revisits it dozens of times: no loop limit fits this graph, the loop rule has its own tests.
HUB_LIMITS = RouteLimits(max_visits=10**9)


def checker(inside: list[bool] | None = None, limits: RouteLimits = HUB_LIMITS) -> RouteChecker:
    inside_mask = np.array(inside or [True, True, True])
    return RouteChecker(SUCC_INDPTR, SUCC_INDICES, LENGTH_M, inside_mask, limits)


@dataclass(frozen=True)
class Shapes:
    """Segment polylines as CSR, the part of ``RoadGraph`` the area mask reads."""

    shape_indptr: IntArray
    shape_lat: FloatArray
    shape_lon: FloatArray


A, B, C = (37.775, -122.419), (37.775, -122.418), (37.776, -122.419)  # (lat, lon)
_TRIANGLE_ENDS = [(A, B), (B, C), (C, A), (A, C)]
TRIANGLE = Shapes(
    shape_indptr=np.arange(0, 9, 2, dtype=np.int64),
    shape_lat=np.array([p[0] for ends in _TRIANGLE_ENDS for p in ends]),
    shape_lon=np.array([p[1] for ends in _TRIANGLE_ENDS for p in ends]),
)
TRIANGLE_SUCC_INDPTR = np.array([0, 1, 2, 3, 4])
TRIANGLE_SUCC_INDICES = np.array([1, 2, 0, 2])
TRIANGLE_LENGTH_M = np.array([88.0, 142.0, 111.0, 111.0])  # 0.001° of lon ≈ 88 m, of lat 111 m


def triangle_checker(inside: np.ndarray | None = None) -> RouteChecker:
    return RouteChecker(
        TRIANGLE_SUCC_INDPTR, TRIANGLE_SUCC_INDICES, TRIANGLE_LENGTH_M,
        inside if inside is not None else np.ones(4, dtype=bool),
    )  # fmt: skip
