"""Forecasting features: calendar slots, neighbours, sources and the Ibis feature expression."""

from taxinav.features.expressions import FEATURES, build_features
from taxinav.features.slots import Slotting
from taxinav.features.sources import (
    DemandInputs,
    counts_file_inputs,
    data_period,
    h3_inputs,
    road_inputs,
)

__all__ = [
    "FEATURES",
    "DemandInputs",
    "Slotting",
    "build_features",
    "counts_file_inputs",
    "data_period",
    "h3_inputs",
    "road_inputs",
]
