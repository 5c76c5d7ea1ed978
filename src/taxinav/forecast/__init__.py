"""Demand forecasting: the Forecaster interface, baselines, LightGBM, the backtest, metrics,
the report, and the served forecasts of a day."""

from taxinav.forecast.backtest import BacktestResult, default_models, run_backtest
from taxinav.forecast.base import Forecaster
from taxinav.forecast.baselines import HistoricalAverage
from taxinav.forecast.daily import feature_frame, features_day, forecasts_day
from taxinav.forecast.gbm import GbmParams, LightGbmForecaster

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
