"""Baselines every model must beat: persistence, seasonal naive, tuned historical average."""

from __future__ import annotations

import numpy as np
import pandas as pd

from taxinav.forecast.metrics import rmse

# Which days to pool for the same time of day, and how far back (column of the features).
HA_CANDIDATES: dict[str, str] = {
    "same weekday, all weeks": "ha_weekday",
    "weekday/day-off split, all days": "ha_dayoff",
    "weekday/day-off split, last 4": "ha_dayoff_4",
    "all days, all history": "ha_all",
    "all days, last 7": "ha_all_7",
}
_FALLBACK = ("ha_all", "yday")


def _with_fallback(frame: pd.DataFrame, column: str) -> np.ndarray:
    out = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
    for fb in _FALLBACK:
        gap = np.isnan(out)
        if not gap.any():
            break
        out = np.where(gap, frame[fb].to_numpy(dtype=np.float64, na_value=np.nan), out)
    return np.asarray(np.nan_to_num(out, nan=0.0), dtype=np.float64)


class Persistence:
    """The last 30 minutes repeat."""

    name = "persistence"

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame) -> Persistence:
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["r30"].to_numpy(dtype=np.float64)


class SeasonalNaive:
    """The same 30 minutes a week ago (yesterday where no week of history exists)."""

    name = "seasonal_naive"

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame) -> SeasonalNaive:
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        week = frame["week"].to_numpy(dtype=np.float64, na_value=np.nan)
        yday = frame["yday"].to_numpy(dtype=np.float64, na_value=np.nan)
        return np.nan_to_num(np.where(np.isnan(week), yday, week), nan=0.0)


class HistoricalAverage:
    """Mean of the same time of day over pooled past days; the pooling and look-back are
    chosen by RMSE on the validation part of the training period."""

    name = "historical_average"

    def __init__(self) -> None:
        self.choice = "ha_all"
        self.scores: dict[str, float] = {}

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame) -> HistoricalAverage:
        y = valid["y"].to_numpy(dtype=np.float64)
        self.scores = {
            label: rmse(y, _with_fallback(valid, col)) for label, col in HA_CANDIDATES.items()
        }
        best = min(self.scores, key=lambda k: self.scores[k])
        self.choice = HA_CANDIDATES[best]
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return _with_fallback(frame, self.choice)
