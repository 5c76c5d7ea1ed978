"""The contract every demand model fulfils, so pipeline, simulator and service can swap them."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd


@runtime_checkable
class Forecaster(Protocol):
    """Predicts pickups over the forecast horizon per (unit, slot) row of the feature table."""

    name: str

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame) -> Forecaster:
        """Learn from ``train``; ``valid`` (later in time) is for choices such as tuning."""
        ...

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Expected counts for the rows of ``frame`` (typically every unit of one slot)."""
        ...
