"""Guidance: the product's composition of forecasts, fares and drivers' habits into
coordinated cruising routes — for the service, the ``recommend`` command and the simulator."""

from taxinav.guidance.experiment import ALL_POLICIES, POLICIES, make_policy, run_seed, simulate
from taxinav.guidance.factory import (
    GUIDED,
    DayDemand,
    DayGuidance,
    GuidedFactory,
    LiveDemand,
    day_guidance,
    guided_factory,
)
from taxinav.guidance.policy import GuidedPolicy
from taxinav.guidance.recommend import Recommendation, place_vehicles, recommend_at

__all__ = [
    "ALL_POLICIES",
    "GUIDED",
    "POLICIES",
    "DayDemand",
    "DayGuidance",
    "GuidedFactory",
    "GuidedPolicy",
    "LiveDemand",
    "Recommendation",
    "day_guidance",
    "guided_factory",
    "make_policy",
    "place_vehicles",
    "recommend_at",
    "run_seed",
    "simulate",
]
