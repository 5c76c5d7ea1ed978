"""Training jobs: a backtest of the forecast models (inputs → features → backtest → report),
tracked in MLflow and gated into the registry, and the champion's predictions."""

from __future__ import annotations

import json
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
    default_models,
    load_frame,
    make_split,
    run_backtest,
)
from taxinav.forecast.base import Forecaster
from taxinav.forecast.gbm import GbmParams, LightGbmForecaster
from taxinav.mlops.registry import champion_loader, tracking_uri
from taxinav.mlops.tracking import data_checksum, experiment_id, log_training
from taxinav.mlops.tuning import best_params, save_best
from taxinav.mlops.tuning import tune as search
from taxinav.settings import Settings
from taxinav.warehouse import replace_rows

SERVED_MODELS = ("lightgbm",)


@dataclass(frozen=True)
class TrackedRun:
    """The MLflow run of a training, the registered version and the gate's decision."""

    run_id: str
    version: str
    champion: str | None  # the champion version after the gate
    promoted: bool
    reason: str


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


def _track(settings: Settings, out: dict[str, Any], models: list[Forecaster],
           test: pd.DataFrame, figures: list[Path]) -> TrackedRun:  # fmt: skip
    """Log the run to MLflow, register the model and gate it."""
    gbm = next(m for m in models if isinstance(m, LightGbmForecaster))
    checksum = data_checksum(test[["unit_id", "slot", "y"]])
    rec = log_training(settings, out, gbm, test, checksum, figures)
    return TrackedRun(rec.run_id, rec.version, rec.champion, rec.decision.promote,
                      rec.decision.reason)  # fmt: skip


def store_forecasts(
    con: duckdb.DuckDBPyConnection, inputs: DemandInputs, test: pd.DataFrame,
    preds: dict[str, np.ndarray], version: str | None = None,
) -> int:  # fmt: skip
    """Replace this unit type's stored backtest forecasts with the test predictions of the
    served model(s), in one transaction; returns the rows written."""
    step = timedelta(minutes=inputs.slot_minutes)
    slots = test["slot"].to_numpy()
    start_of = {int(s): inputs.origin + step * int(s) for s in np.unique(slots)}
    tables = []
    for model in SERVED_MODELS:
        if model not in preds:
            continue
        tables.append(pa.table({
            "unit_type": pa.array([inputs.unit_type] * len(test)),
            "model": pa.array([model] * len(test)),
            "unit_id": pa.array(test["unit_id"].astype(str).tolist()),
            "slot_start": pa.array([start_of[s] for s in slots.tolist()],
                                   pa.timestamp("us", tz="UTC")),
            "yhat": pa.array(np.asarray(preds[model], dtype=np.float64)),
            "model_version": pa.array([version] * len(test), pa.string()),
        }))  # fmt: skip
    if not tables:
        return 0
    rows = pa.concat_tables(tables)
    # Only the backtest's own rows: the daily pipeline's champion/base forecasts stay.
    served = ", ".join(f"'{m}'" for m in SERVED_MODELS)
    replace_rows(con, {"forecasts": rows}, f"unit_type = ? AND model IN ({served})",
                 [inputs.unit_type])  # fmt: skip
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
    """Build features, run the backtest, write JSON and the report; track, gate and store the
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
    result, preds, test = run_backtest(
        con, table, inputs, start, test_days, models,
        zero_keep=zero_keep, valid_days=settings.forecast.valid_days,
        train_days=settings.forecast.train_window_days,
    )  # fmt: skip
    out = result.to_json()
    out_dir = settings.reports_dir / "forecast"
    figures = report.plots(out, test, preds, out_dir)
    (out_dir / f"backtest_{inputs.unit_type}.md").write_text(report.markdown(out, figures))
    target = json_out or out_dir / f"backtest_{inputs.unit_type}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(out, indent=1, sort_keys=True))
    served, version, tracked = preds, None, None
    if settings.mlops.track:  # after the report: run ids would make it differ run to run
        tracked = _track(settings, out, models, test, figures)
        served, version = _champion_preds(settings, inputs.unit_type, test, preds)
    stored = store_forecasts(con, inputs, test, served, version)
    return Training(result, tracked, stored)


def _champion_preds(
    settings: Settings, unit: str, test: pd.DataFrame, preds: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], str | None]:
    """What guidance is served for the test days: the champion's forecasts (the new model's
    only if it was promoted)."""
    loaded = champion_loader(settings)(unit)
    if loaded is None:
        return preds, None
    version, predict = loaded
    x = test[list(FEATURES)].astype(np.float32)
    return {**preds, "lightgbm": np.clip(predict(x), 0.0, None)}, version


def tune(con: duckdb.DuckDBPyConnection, settings: Settings, unit: str, trials: int,
         test_start: date | None, test_days: int) -> dict[str, Any]:  # fmt: skip
    """Search LightGBM parameters on the validation days before the test period (an MLflow
    run with one nested run per trial); save the best for the next training."""
    import mlflow

    inputs = demand_inputs(con, CountSpec.of(settings), unit)
    table = materialize(con, inputs)
    start = test_start or last_full_days(
        inputs.origin, inputs.n_slots, inputs.slot_minutes, inputs.tz, test_days
    )
    split = make_split(inputs, start, test_days, settings.forecast.valid_days,
                       train_days=settings.forecast.train_window_days)  # fmt: skip
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
