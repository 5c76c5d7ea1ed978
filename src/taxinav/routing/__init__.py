"""Cruising-route algorithms: chances of a pickup, the finite-horizon MDP, fleet
coordination, the recommender and the route checks. Pure: no I/O, no settings."""

from taxinav.routing.chance import find_probability
from taxinav.routing.coordination import Coordinator, Demand, Fleet, PlanConfig
from taxinav.routing.mdp import Solution, TimeGraph, propagate, rollout, solve
from taxinav.routing.recommender import FleetState, Recommender, VehicleState
from taxinav.routing.route import Route, RouteChecker, RouteLimits, network_area_mask

__all__ = [
    "Coordinator",
    "Demand",
    "Fleet",
    "FleetState",
    "PlanConfig",
    "Recommender",
    "Route",
    "RouteChecker",
    "RouteLimits",
    "Solution",
    "TimeGraph",
    "VehicleState",
    "find_probability",
    "network_area_mask",
    "propagate",
    "rollout",
    "solve",
]
