"""Hyperparameter search for the LightGBM forecaster with Optuna, one nested MLflow run per
trial; the best parameters are saved and used by the next training (``best_params``)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from taxinav.forecast import metrics
from taxinav.forecast.gbm import GbmParams, LightGbmForecaster

log = logging.getLogger(__name__)

TUNED = ("num_leaves", "learning_rate", "min_child_samples", "feature_fraction", "lambda_l2")


def params_path(home: Path, unit_type: str) -> Path:
    return home / "models" / f"best_params_{unit_type}.json"


def best_params(home: Path, unit_type: str, base: GbmParams) -> GbmParams:
    """``base`` with the tuned values of the last search, when there was one."""
    path = params_path(home, unit_type)
    if not path.exists():
        return base
    tuned = {k: v for k, v in json.loads(path.read_text()).items() if k in TUNED}
    return replace(base, **tuned)


def tune(
    train: pd.DataFrame, valid: pd.DataFrame, trials: int, seed: int,
    features: tuple[str, ...], base: GbmParams, experiment_id: str | None = None,
) -> tuple[GbmParams, float, list[dict[str, Any]]]:  # fmt: skip
    """TPE search (seeded) minimising validation RMSE; each trial a nested MLflow run when
    ``experiment_id`` is given. Returns the best parameters, their RMSE and every trial."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    y = valid["y"].to_numpy(dtype=np.float64)
    history: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        params = replace(
            base,
            num_leaves=trial.suggest_int("num_leaves", 15, 255, log=True),
            learning_rate=trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
            min_child_samples=trial.suggest_int("min_child_samples", 10, 200, log=True),
            feature_fraction=trial.suggest_float("feature_fraction", 0.5, 1.0),
            lambda_l2=trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
        )
        model = LightGbmForecaster(params, features).fit(train, valid)
        score = metrics.rmse(y, model.predict(valid))
        history.append({**trial.params, "rmse": score, "rounds": model.best_rounds})
        if experiment_id is not None:
            import mlflow

            with mlflow.start_run(experiment_id=experiment_id, nested=True,
                                  run_name=f"trial {trial.number}"):  # fmt: skip
                mlflow.log_params(trial.params)
                mlflow.log_metric("valid_rmse", score)
        return score

    study = optuna.create_study(direction="minimize",
                                sampler=optuna.samplers.TPESampler(seed=seed))  # fmt: skip
    study.optimize(objective, n_trials=trials)
    best = replace(base, **study.best_params)
    return best, float(study.best_value), history


def save_best(home: Path, unit_type: str, params: GbmParams, rmse: float) -> Path:
    path = params_path(home, unit_type)
    path.parent.mkdir(parents=True, exist_ok=True)
    chosen = {k: v for k, v in asdict(params).items() if k in TUNED}
    path.write_text(json.dumps({**chosen, "valid_rmse": rmse}, indent=1, sort_keys=True))
    log.info("best %s parameters saved to %s", unit_type, path)
    return path
