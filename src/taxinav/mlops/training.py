"""Training jobs: a backtest of the forecast models (inputs → features → fit → gate → test →
report), tracked in MLflow and gated into the registry, and the champion's predictions.

The promotion gate looks only at the gate window, the ``forecast.valid_days`` days right
before the test window: the models were fitted (and early-stopped, and tuned) on the days
before it. The test window is scored once, after the decision, and is what the report shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from taxinav.features import FEATURES, DemandInputs
from taxinav.features.counts import CountSpec, demand_inputs
from taxinav.features.materialize import materialize
from taxinav.forecast import report
from taxinav.forecast.backtest import (
    BacktestResult,
    Fitted,
    default_models,
    fit_models,
    load_frame,
    make_split,
    score_test,
)
from taxinav.forecast.gbm import GbmParams, LightGbmForecaster
from taxinav.mlops.registry import ModelCard, champion_card, tracking_uri
from taxinav.mlops.tracking import data_checksum, experiment_id, log_test, log_training
from taxinav.mlops.tuning import best_params, save_best
from taxinav.mlops.tuning import tune as search
from taxinav.settings import Settings
from taxinav.warehouse import replace_rows

SERVED_MODELS = ("lightgbm",)


def gate_days(settings: Settings) -> int:
    """Days of the gate window: as many as the validation window (``forecast.valid_days``)."""
    return settings.forecast.valid_days


@dataclass(frozen=True)
class TrackedRun:
    """The MLflow run of a training, the registered version and the gate's decision with its
    numbers (RMSEs on the gate window)."""

    run_id: str
    version: str
    champion: str | None  # the champion version after the gate
    promoted: bool
    reason: str
    gate_window: str = ""
    challenger_rmse: float | None = None
    champion_rmse: float | None = None  # the champion before the gate, on the same days
    base_rmse: float | None = None


@dataclass(frozen=True)
class Training:
    """A backtest of the forecast models, its tracking and the forecasts stored for guidance."""

    backtest: BacktestResult
    tracked: TrackedRun | None
    stored_rows: int

    def to_json(self) -> dict[str, Any]:
        out = self.backtest.to_json()
        if self.tracked is not None:
            out["mlflow"] = asdict(self.tracked)
        return out


def _track(settings: Settings, fitted: Fitted) -> TrackedRun:
    """Log the run to MLflow, register the model and gate it on the gate window."""
    gbm = next(m for m in fitted.models if isinstance(m, LightGbmForecaster))
    checksum = data_checksum(fitted.gate[["unit_id", "slot", "y"]])
    rec = log_training(settings, fitted.result.to_json(), gbm, fitted.gate, checksum)
    d = rec.decision
    return TrackedRun(rec.run_id, rec.version, rec.champion, d.promote, d.reason, d.window,
                      d.challenger_rmse, d.champion_rmse, d.base_rmse)  # fmt: skip


def store_forecasts(
    con: duckdb.DuckDBPyConnection, inputs: DemandInputs, test: pd.DataFrame,
    preds: dict[str, np.ndarray], version: str = "", trained_before: date | None = None,
    window: tuple[int, int] | None = None,
) -> int:  # fmt: skip
    """Store the test predictions of the served model(s) as ``version`` (``''``: untracked),
    replacing only that model version's rows in the test ``window`` (slots [lo, hi); default:
    the slots of ``test``), in one transaction; other versions and windows stay. A row is
    ``in_sample`` when its slot's local day is before ``trained_before`` (None: unknown).
    Returns the rows written."""
    step = timedelta(minutes=inputs.slot_minutes)
    slots = test["slot"].to_numpy().astype(np.int64)
    lo, hi = window or (int(slots.min()), int(slots.max()) + 1)
    # Columns built with numpy and Arrow: a week of road rows is millions, and a Python
    # object per row (a datetime, a string) cost gigabytes.
    step_us = int(step / timedelta(microseconds=1))
    origin_us = int(inputs.origin.timestamp()) * 1_000_000  # local midnight: whole seconds
    starts = pa.array(origin_us + slots * step_us, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    uniq = np.unique(slots)
    if trained_before is None:
        in_sample = pa.nulls(len(test), pa.bool_())
    else:
        inside = np.array([(inputs.origin + step * int(s)).astimezone(inputs.tz).date()
                           < trained_before for s in uniq])  # fmt: skip
        in_sample = pa.array(inside[np.searchsorted(uniq, slots)], pa.bool_())
    unit_ids = pa.array(test["unit_id"].astype(str).to_numpy(), pa.string())
    tables = []
    for model in SERVED_MODELS:
        if model not in preds:
            continue
        n = len(test)
        tables.append(pa.table({
            "unit_type": pa.repeat(pa.scalar(inputs.unit_type, pa.string()), n),
            "model": pa.repeat(pa.scalar(model, pa.string()), n),
            "unit_id": unit_ids,
            "slot_start": starts,
            "yhat": pa.array(np.asarray(preds[model], dtype=np.float64)),
            "model_version": pa.repeat(pa.scalar(version, pa.string()), n),
            "in_sample": in_sample,
        }))  # fmt: skip
    if not tables:
        return 0
    rows = pa.concat_tables(tables)
    # Only this run's own rows: other versions, other windows and the daily pipeline's
    # champion/base forecasts stay.
    served = ", ".join(f"'{m}'" for m in SERVED_MODELS)
    replace_rows(con, {"forecasts": rows},
                 f"unit_type = ? AND model IN ({served}) AND model_version = ? "
                 "AND slot_start >= ? AND slot_start < ?",
                 [inputs.unit_type, version, inputs.origin + step * lo,
                  inputs.origin + step * hi])  # fmt: skip
    return int(rows.num_rows)


def last_full_days(
    origin: datetime, n_slots: int, slot_minutes: int, tz: ZoneInfo, days: int
) -> date:
    """First day of the last ``days`` complete local days of a period of slots."""
    complete = n_slots // (24 * 60 // slot_minutes)
    return origin.astimezone(tz).date() + timedelta(days=complete - days)


def backtest(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    unit: str,
    test_start: date | None,
    test_days: int,
    *,
    counts: Path | None = None,
    json_out: Path | None = None,
) -> Training:
    """Build features, fit the models before the gate window, track and gate the LightGBM on
    the gate window, then score the test window once, write JSON and the report, and store the
    served model's test forecasts."""
    inputs = demand_inputs(con, CountSpec.of(settings), unit, counts)
    table = materialize(con, inputs)
    start = test_start or last_full_days(
        inputs.origin, inputs.n_slots, inputs.slot_minutes, inputs.tz, test_days
    )
    zero_keep = settings.forecast.road_zero_keep if inputs.unit_type == "road" else 1.0
    models = default_models(
        settings.seed, best_params(settings.home, inputs.unit_type, GbmParams(seed=settings.seed))
    )
    fitted = fit_models(
        con, table, inputs, start, test_days, models,
        zero_keep=zero_keep, valid_days=settings.forecast.valid_days,
        train_days=settings.forecast.train_window_days, gate_days=gate_days(settings),
    )  # fmt: skip
    tracked = _track(settings, fitted) if settings.mlops.track else None
    # The forecasts served on the test days are the champion's (the new model's only if it
    # was promoted): it predicts the window beside the backtest's models.
    card = champion_card(settings, inputs.unit_type) if tracked is not None else None
    extra = {_CHAMPION: _clipped(card)} if card is not None else {}
    preds = score_test(fitted, extra)  # the test window: once, after the gate decided
    champion = preds.pop(_CHAMPION, None)
    test, result = fitted.test, fitted.result
    out = result.to_json()
    out_dir = settings.reports_dir / "forecast"
    figures = report.plots(out, test, preds, out_dir)
    (out_dir / f"backtest_{inputs.unit_type}.md").write_text(report.markdown(out, figures))
    target = json_out or out_dir / f"backtest_{inputs.unit_type}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(out, indent=1, sort_keys=True))
    served, version = preds, ""
    before: date | None = date.fromisoformat(result.trained_before)
    if tracked is not None:  # after the report: run ids would make it differ run to run
        log_test(settings, tracked.run_id, out, figures)
    if card is not None and champion is not None:
        served = {**preds, "lightgbm": champion}
        version, before = card.version, card.trained_before
    stored = store_forecasts(con, inputs, test, served, version, before, result.split.test)
    return Training(result, tracked, stored)


_CHAMPION = "_champion"  # the champion's predictions among the test window's


def _clipped(card: ModelCard) -> Callable[[pd.DataFrame], np.ndarray]:
    def predict(rows: pd.DataFrame) -> np.ndarray:
        return np.clip(card.predict(rows[list(FEATURES)].astype(np.float32)), 0.0, None)

    return predict


def tune(con: duckdb.DuckDBPyConnection, settings: Settings, unit: str, trials: int,
         test_start: date | None, test_days: int) -> dict[str, Any]:  # fmt: skip
    """Search LightGBM parameters on the validation days before the gate window (an MLflow
    run with one nested run per trial); save the best for the next training. The gate and
    test windows are never looked at."""
    import mlflow

    inputs = demand_inputs(con, CountSpec.of(settings), unit)
    table = materialize(con, inputs)
    start = test_start or last_full_days(
        inputs.origin, inputs.n_slots, inputs.slot_minutes, inputs.tz, test_days
    )
    split = make_split(inputs, start, test_days, settings.forecast.valid_days,
                       train_days=settings.forecast.train_window_days,
                       gate_days=gate_days(settings))  # fmt: skip
    zero_keep = settings.forecast.road_zero_keep if inputs.unit_type == "road" else 1.0
    train = load_frame(con, table, *split.train, zero_keep=zero_keep)
    valid = load_frame(con, table, *split.valid)
    mlflow.set_tracking_uri(tracking_uri(settings.home, settings.mlops.tracking_uri))
    exp = experiment_id(settings, inputs.unit_type)
    base = GbmParams(seed=settings.seed)
    with mlflow.start_run(experiment_id=exp, run_name=f"tune {unit} ({trials} trials)") as run:
        best, rmse, history = search(train, valid, trials, settings.seed, FEATURES, base, exp)
        mlflow.log_metric("best_valid_rmse", rmse)
    path = save_best(settings.home, inputs.unit_type, best, rmse)
    return {"run_id": run.info.run_id, "best_valid_rmse": rmse, "trials": history,
            "saved": str(path)}  # fmt: skip
