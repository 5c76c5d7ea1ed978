"""Demand forecasting: the Forecaster interface, baselines, LightGBM, the backtest, metrics,
the report, and the served forecasts of a day."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taxinav.forecast.backtest import BacktestResult, default_models, run_backtest
    from taxinav.forecast.base import Forecaster
    from taxinav.forecast.baselines import HistoricalAverage
    from taxinav.forecast.daily import feature_frame, features_day, forecasts_day
    from taxinav.forecast.gbm import GbmParams, LightGbmForecaster

# Imported on first use: a process that needs one small part (the ingest process needs the
# alert monitor) does not load the model libraries with the rest.
_EXPORTS = {
    "BacktestResult": "taxinav.forecast.backtest",
    "default_models": "taxinav.forecast.backtest",
    "run_backtest": "taxinav.forecast.backtest",
    "Forecaster": "taxinav.forecast.base",
    "HistoricalAverage": "taxinav.forecast.baselines",
    "feature_frame": "taxinav.forecast.daily",
    "features_day": "taxinav.forecast.daily",
    "forecasts_day": "taxinav.forecast.daily",
    "GbmParams": "taxinav.forecast.gbm",
    "LightGbmForecaster": "taxinav.forecast.gbm",
}

__all__ = [
    "BacktestResult",
    "Forecaster",
    "GbmParams",
    "HistoricalAverage",
    "LightGbmForecaster",
    "default_models",
    "feature_frame",
    "features_day",
    "forecasts_day",
    "run_backtest",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
