"""Rolling-origin backtest: fit on the days before a gate window, decide on the gate window,
then predict every slot of the test period.

The days run train | validation | gate | test. Models are fitted once, on training and
validation slots whose targets (the horizon) end before the gate begins — the validation days
choose LightGBM's rounds (early stopping, then folded into the final fit) and the historical
average's pooling, so they are part of what the models learned. The gate days are the first
days the models never saw: promotion is decided on them (``fit_models`` scores every model
there). The test period is scored once, afterwards (``score_test``), and reported. Features of
a slot use actual data up to that slot's start (the origin rolls forward with the clock).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
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
    """Slot ranges [lo, hi) of the parts, in time order: training, validation (early stopping
    and tuning choices), gate (the promotion decision; empty without gate days) and test."""

    train: tuple[int, int]
    valid: tuple[int, int]
    gate: tuple[int, int]
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
    trained_before: str = ""  # the first day of no model's training data (gate or test start)
    gate_start: str = ""
    gate_days: int = 0
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # test-window scores
    gate: dict[str, dict[str, float]] = field(default_factory=dict)  # gate-window scores
    details: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "unit_type": self.unit_type,
            "test_start": self.test_start,
            "test_days": self.test_days,
            "trained_before": self.trained_before,
            "gate": {"start": self.gate_start, "days": self.gate_days, "models": self.gate},
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
    gate_days: int = 0,
) -> Split:
    """Train from ``warmup_days`` in — or over the last ``train_days`` before validation, a
    rolling window — then validation, then ``gate_days`` gate days just before the test; what
    the models learn from (training, validation) has every target end before the gate (or,
    without gate days, the test) begins."""
    per_day = inputs.slotting.per_day
    t0 = inputs.slot_at(local_midnight(test_start, inputs.tz))
    g0 = t0 - gate_days * per_day
    v0 = g0 - valid_days * per_day
    if v0 <= warmup_days * per_day:
        raise ValueError(f"not enough history before {test_start} for training")
    t1 = min(t0 + test_days * per_day, inputs.n_slots)
    if t1 <= t0:
        raise ValueError(f"no data in the test period starting {test_start}")
    gap = inputs.slotting.horizon_slots - 1  # a target must end before the next part begins
    first = warmup_days * per_day
    if train_days is not None:
        first = max(first, v0 - train_days * per_day)
    # The gate is only scored, never learned from: its last targets may reach into the test.
    return Split((first, v0 - gap), (v0, g0 - gap), (g0, t0), (t0, t1))


# What scoring and reporting a test window keep of its rows besides unit, slot and target:
# its features are read a day at a time while predicting (a week of road rows is millions).
TEST_COLUMNS = ("hour", "unit_rate")


def load_frame(
    con: duckdb.DuckDBPyConnection, table: str, lo: int, hi: int, zero_keep: float = 1.0,
    columns: Sequence[str] = FEATURES,
) -> pd.DataFrame:  # fmt: skip
    """Rows of slots [lo, hi) with complete targets: unit_id, slot, y, ``columns`` (features
    as float32: float64 and a consolidated copy made the road backtest peak at 9 GiB) and
    weight."""
    features = ", ".join(f"CAST({f} AS FLOAT) AS {f}" for f in columns)
    keep = int(round(zero_keep * 1000))
    sample = "" if keep >= 1000 else f"AND (y > 0 OR hash(unit_id, slot) % 1000 < {keep})"
    weight = "1.0" if keep >= 1000 else f"CASE WHEN y > 0 THEN 1.0 ELSE {1000 / keep} END"
    # Explicit types: DuckDB's literals are DECIMAL, which pandas would hold as Python objects.
    rows = con.sql(f"""
        SELECT unit_id, slot, CAST(y AS DOUBLE) AS y, {features},
               CAST({weight} AS DOUBLE) AS weight FROM {table}
        WHERE slot >= {lo} AND slot < {hi} AND y_complete = 1 {sample}
        ORDER BY slot, unit_id""").to_arrow_table()
    # One array per column, each freed from Arrow as it is converted: no 2-D block copy.
    frame: pd.DataFrame = rows.to_pandas(split_blocks=True, self_destruct=True)
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


@dataclass
class Fitted:
    """Models fitted on the days before the gate and scored on the gate window; the test
    window is loaded but not yet predicted (``score_test`` does that, once)."""

    result: BacktestResult
    models: list[Forecaster]
    gate: pd.DataFrame  # the gate window's rows (empty without gate days)
    test: pd.DataFrame  # the test window's rows: keys, target and TEST_COLUMNS
    con: duckdb.DuckDBPyConnection  # where the test window's features are read
    table: str
    gate_preds: dict[str, np.ndarray] = field(default_factory=dict)


def fit_models(
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
    gate_days: int = 0,
) -> Fitted:
    """Fit every model on the training and validation days and score it on the gate days
    (``result.gate``), the days a promotion decision may look at."""
    models = models if models is not None else default_models()
    split = make_split(inputs, test_start, test_days, valid_days, train_days=train_days,
                       gate_days=gate_days)  # fmt: skip
    started = time.perf_counter()
    train = load_frame(con, table, *split.train, zero_keep=zero_keep)
    valid = load_frame(con, table, *split.valid)
    gate = load_frame(con, table, *split.gate)
    test = load_frame(con, table, *split.test, columns=TEST_COLUMNS)
    if test.empty:
        raise ValueError(
            f"the test period has no complete {inputs.slotting.horizon_min}-minute targets"
        )
    if gate_days and gate.empty:
        raise ValueError(f"the {gate_days} gate day(s) before {test_start} have no targets")
    gate_start = test_start - timedelta(days=gate_days)
    result = BacktestResult(
        inputs.unit_type, split, test_start.isoformat(), test_days,
        int(inputs.units.num_rows), len(test), metrics.noise_floor(test["y"]),
        inputs.slotting.horizon_min, inputs.slotting.slot_minutes,
        trained_before=gate_start.isoformat(),
        gate_start=gate_start.isoformat() if gate_days else "", gate_days=gate_days,
    )  # fmt: skip
    result.seconds["load"] = time.perf_counter() - started
    out = Fitted(result, models, gate, test, con, table)
    for model in models:
        t = time.perf_counter()
        model.fit(train, valid)
        result.seconds[f"fit_{model.name}"] = time.perf_counter() - t
        if not gate.empty:
            out.gate_preds[model.name] = model.predict(gate)
            y = gate["y"].to_numpy(dtype=np.float64)
            result.gate[model.name] = metrics.summary(y, out.gate_preds[model.name],
                                                      gate["slot"].to_numpy())  # fmt: skip
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
    return out


def score_test(
    fitted: Fitted, extra: Mapping[str, Callable[[pd.DataFrame], np.ndarray]] | None = None
) -> dict[str, np.ndarray]:
    """Predict and score the test window with every fitted model (``result.models``); the
    ``extra`` predictors (e.g. the champion's model) predict it too, unscored. The window's
    features are read a day of slots at a time."""
    test, result = fitted.test, fitted.result
    predictors: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
        m.name: m.predict for m in fitted.models}  # fmt: skip
    predictors.update(extra or {})
    parts: dict[str, list[np.ndarray]] = {name: [] for name in predictors}
    seconds = dict.fromkeys(predictors, 0.0)
    lo, hi = result.split.test
    per_day = 24 * 60 // result.slot_minutes
    for start in range(lo, hi, per_day):
        block = load_frame(fitted.con, fitted.table, start, min(start + per_day, hi))
        for name, predict in predictors.items():
            t = time.perf_counter()
            parts[name].append(np.asarray(predict(block), dtype=np.float64))
            seconds[name] += time.perf_counter() - t
    preds = {name: np.concatenate(p) if p else np.zeros(0) for name, p in parts.items()}
    if any(len(p) != len(test) for p in preds.values()):
        raise RuntimeError(f"{fitted.table} changed while the test window was scored")
    # Busy units: the top decile by their mean rate before the test period.
    rate = test.groupby("unit_id")["unit_rate"].first()
    busy_units = set(rate[rate >= rate.quantile(0.9)].index)
    busy = test["unit_id"].isin(busy_units).to_numpy()
    for model in fitted.models:
        result.seconds[f"predict_{model.name}"] = seconds[model.name]
        result.models[model.name] = _scores(test, preds[model.name], busy)
    return preds


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
    gate_days: int = 0,
) -> tuple[BacktestResult, dict[str, np.ndarray], pd.DataFrame]:
    """Fit every model, score the gate days (if any), predict and score the whole test
    period. Returns the test predictions and rows too."""
    fitted = fit_models(con, table, inputs, test_start, test_days, models, zero_keep=zero_keep,
                        valid_days=valid_days, train_days=train_days,
                        gate_days=gate_days)  # fmt: skip
    preds = score_test(fitted)
    return fitted.result, preds, fitted.test
