"""Rolling-origin backtest: fit on everything before the test period, predict every slot.

Features of a test slot use actual data up to that slot's start (the origin rolls forward
with the clock); models are fitted once, on slots whose targets (the horizon) end before the test
period begins.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from taxinav.calendar import local_midnight
from taxinav.features import FEATURES, DemandInputs
from taxinav.forecast import metrics
from taxinav.forecast.base import Forecaster
from taxinav.forecast.baselines import HistoricalAverage, Persistence, SeasonalNaive
from taxinav.forecast.gbm import GbmParams, LightGbmForecaster


@dataclass(frozen=True)
class Split:
    """Slot ranges [lo, hi) of the three parts."""

    train: tuple[int, int]
    valid: tuple[int, int]
    test: tuple[int, int]


@dataclass
class BacktestResult:
    unit_type: str
    split: Split
    test_start: str
    test_days: int
    n_units: int
    n_test_rows: int
    noise_floor: float
    horizon_min: int  # the target: pickups over this many minutes from a slot's start
    slot_minutes: int
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "unit_type": self.unit_type,
            "test_start": self.test_start,
            "test_days": self.test_days,
            "split_slots": {k: list(v) for k, v in self.split.__dict__.items()},
            "n_units": self.n_units,
            "n_test_rows": self.n_test_rows,
            "noise_floor_rmse": self.noise_floor,
            "horizon_min": self.horizon_min,
            "slot_minutes": self.slot_minutes,
            "models": self.models,
            "details": self.details,
            "seconds": self.seconds,
        }


def make_split(
    inputs: DemandInputs,
    test_start: date,
    test_days: int,
    valid_days: int = 2,
    warmup_days: int = 1,
    train_days: int | None = None,
) -> Split:
    """Train from ``warmup_days`` in — or over the last ``train_days`` before validation, a
    rolling window — then validation just before the test, no target overlap."""
    per_day = inputs.slotting.per_day
    t0 = inputs.slot_at(local_midnight(test_start, inputs.tz))
    if t0 - valid_days * per_day <= warmup_days * per_day:
        raise ValueError(f"not enough history before {test_start} for training")
    t1 = min(t0 + test_days * per_day, inputs.n_slots)
    if t1 <= t0:
        raise ValueError(f"no data in the test period starting {test_start}")
    v0 = t0 - valid_days * per_day
    gap = inputs.slotting.horizon_slots - 1  # a target must end before the next part begins
    first = warmup_days * per_day
    if train_days is not None:
        first = max(first, v0 - train_days * per_day)
    return Split((first, v0 - gap), (v0, t0 - gap), (t0, t1))


def load_frame(
    con: duckdb.DuckDBPyConnection, table: str, lo: int, hi: int, zero_keep: float = 1.0
) -> pd.DataFrame:
    cols = ", ".join(("unit_id", "slot", "y", *FEATURES))
    keep = int(round(zero_keep * 1000))
    sample = "" if keep >= 1000 else f"AND (y > 0 OR hash(unit_id, slot) % 1000 < {keep})"
    weight = "1.0" if keep >= 1000 else f"CASE WHEN y > 0 THEN 1.0 ELSE {1000 / keep} END"
    frame: pd.DataFrame = con.sql(f"""
        SELECT {cols}, {weight} AS weight FROM {table}
        WHERE slot >= {lo} AND slot < {hi} AND y_complete = 1 {sample}
        ORDER BY slot, unit_id""").df()
    return frame


def default_models(seed: int = 0, gbm: GbmParams | None = None) -> list[Forecaster]:
    return [
        HistoricalAverage(),
        SeasonalNaive(),
        Persistence(),
        LightGbmForecaster(gbm or GbmParams(seed=seed)),
    ]


def _scores(test: pd.DataFrame, pred: np.ndarray, busy: np.ndarray) -> dict[str, Any]:
    y = test["y"].to_numpy(dtype=np.float64)
    slot = test["slot"].to_numpy()
    out: dict[str, Any] = metrics.summary(y, pred, slot)
    hours = test["hour"].to_numpy()
    out["by_hour"] = {
        int(h): {
            "rmse": metrics.rmse(y[hours == h], pred[hours == h]),
            "mae": metrics.mae(y[hours == h], pred[hours == h]),
            "masked_mape": metrics.masked_mape(y[hours == h], pred[hours == h]),
        }
        for h in np.unique(hours)
    }
    out["by_class"] = {
        name: {
            "rmse": metrics.rmse(y[m], pred[m]),
            "mae": metrics.mae(y[m], pred[m]),
            "calibration": metrics.calibration(y[m], pred[m]),
        }
        for name, m in (("busy_top10pct", busy), ("other", ~busy))
    }
    return out


def run_backtest(
    con: duckdb.DuckDBPyConnection,
    table: str,
    inputs: DemandInputs,
    test_start: date,
    test_days: int,
    models: list[Forecaster] | None = None,
    *,
    zero_keep: float = 1.0,
    valid_days: int = 2,
    train_days: int | None = None,
) -> tuple[BacktestResult, dict[str, np.ndarray], pd.DataFrame]:
    """Fit every model, predict the whole test period, score. Returns predictions too."""
    models = models if models is not None else default_models()
    split = make_split(inputs, test_start, test_days, valid_days, train_days=train_days)
    started = time.perf_counter()
    train = load_frame(con, table, *split.train, zero_keep=zero_keep)
    valid = load_frame(con, table, *split.valid)
    test = load_frame(con, table, *split.test)
    if test.empty:
        raise ValueError(
            f"the test period has no complete {inputs.slotting.horizon_min}-minute targets"
        )
    result = BacktestResult(
        inputs.unit_type, split, test_start.isoformat(), test_days,
        int(inputs.units.num_rows), len(test), metrics.noise_floor(test["y"]),
        inputs.slotting.horizon_min, inputs.slotting.slot_minutes,
    )  # fmt: skip
    result.seconds["load"] = time.perf_counter() - started
    # Busy units: the top decile by their mean rate before the test period.
    rate = test.groupby("unit_id")["unit_rate"].first()
    busy_units = set(rate[rate >= rate.quantile(0.9)].index)
    busy = test["unit_id"].isin(busy_units).to_numpy()
    preds: dict[str, np.ndarray] = {}
    for model in models:
        t = time.perf_counter()
        model.fit(train, valid)
        result.seconds[f"fit_{model.name}"] = time.perf_counter() - t
        t = time.perf_counter()
        preds[model.name] = model.predict(test)
        result.seconds[f"predict_{model.name}"] = time.perf_counter() - t
        result.models[model.name] = _scores(test, preds[model.name], busy)
        if isinstance(model, HistoricalAverage):
            result.details["historical_average"] = {
                "choice": model.choice,
                "validation_rmse": model.scores,
            }
        if isinstance(model, LightGbmForecaster):
            result.details["lightgbm"] = {
                "rounds": model.best_rounds,
                "train_rows": len(train),
                "importance": model.importance(),
            }
    return result, preds, test
