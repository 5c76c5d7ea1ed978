"""Experiment tracking: every forecast training run logged to MLflow, registered, gated.

A run logs its parameters, the git commit, the data window and a checksum of the training
data, the backtest metrics of the model and of every baseline, the feature importance and the
report's plots, and the LightGBM model with its signature. The model becomes the registry's
challenger; the gate compares it, on the run's own test window, with the current champion
(re-scored on that window) and with the base model (tuned historical average).
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from taxinav.forecast import metrics
from taxinav.forecast.gbm import LightGbmForecaster
from taxinav.mlops.registry import CHAMPION, Decision, Registry, tracking_uri
from taxinav.settings import Settings

BASE_MODEL = "historical_average"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingRecord:
    run_id: str
    version: str
    decision: Decision
    champion: str | None


def git_commit(cwd: Path | None = None) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=cwd, timeout=10, check=True)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def data_checksum(frame: pd.DataFrame) -> str:
    """Order-independent checksum of a training frame's rows."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    return f"{int(np.bitwise_xor.reduce(hashed)):016x}-{len(frame)}"


def experiment_id(settings: Settings, unit_type: str) -> str:
    """The unit type's experiment (see ``experiment_named``)."""
    return experiment_named(settings, f"taxinav-{unit_type}")


def is_tracking_server(uri: str) -> bool:
    """Whether ``uri`` is an MLflow tracking server (which has its own artifact store), rather
    than a store this process writes itself (a SQLite file, a database, a folder)."""
    return urlsplit(uri).scheme in ("http", "https")


def experiment_named(settings: Settings, name: str) -> str:
    """The experiment ``name`` of the settings' tracking store, created if it is new. On a
    tracking server the server chooses where its artifacts go (its artifact store, e.g.
    ``mlflow-artifacts:/…`` with ``--serve-artifacts``), so that every client reaches them; with
    a local store they go under ``TAXINAV_HOME/mlartifacts``."""
    from mlflow import MlflowClient

    uri = tracking_uri(settings.home, settings.mlops.tracking_uri)
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(name)
    if found is not None:
        if is_tracking_server(uri) and urlsplit(found.artifact_location).scheme in ("", "file"):
            log.warning("experiment %r on %s keeps its artifacts in the local folder %s, "
                        "which other machines cannot read; rename it (a deleted one keeps its "
                        "name until `mlflow gc`) to have it recreated in the server's artifact "
                        "store", name, uri, found.artifact_location)  # fmt: skip
        return str(found.experiment_id)
    if is_tracking_server(uri):
        return str(client.create_experiment(name))
    artifacts = (settings.home / "mlartifacts").resolve()
    return str(client.create_experiment(name, artifact_location=artifacts.as_uri()))


def log_training(
    settings: Settings, result: dict[str, Any], model: LightGbmForecaster,
    test: pd.DataFrame, checksum: str, figures: list[Path],
) -> TrainingRecord:  # fmt: skip
    """Log one backtest's training run, register its model and apply the promotion gate.
    ``checksum``: of the data the run used (see ``data_checksum``)."""
    import mlflow
    from mlflow.models import infer_signature

    assert model.booster is not None, "log a fitted model"
    unit = result["unit_type"]
    registry = Registry.from_settings(settings)
    x = test[list(model.features)].astype(np.float32)
    y = test["y"].to_numpy(dtype=np.float64)
    with mlflow.start_run(experiment_id=experiment_id(settings, unit),
                          run_name=f"{unit} test {result['test_start']}") as run:  # fmt: skip
        mlflow.log_params({"unit_type": unit, "test_start": result["test_start"],
                           "test_days": result["test_days"], "seed": settings.seed,
                           "rounds": model.best_rounds, **model.params.lgb_params()})  # fmt: skip
        mlflow.set_tags({"git_commit": git_commit(), "data_checksum": checksum,
                         "data_window": str(result.get("split_slots", ""))})  # fmt: skip
        for name, scores in result["models"].items():
            mlflow.log_metrics({f"{name}.{k}": float(v) for k, v in scores.items()
                                if isinstance(v, int | float) and np.isfinite(v)})  # fmt: skip
        mlflow.log_dict(model.importance(), "feature_importance.json")
        for f in figures:
            mlflow.log_artifact(str(f), "plots")
        sample = x.head(200)
        with warnings.catch_warnings():  # MLflow's own pyfunc wrapper uses an Any type hint
            warnings.filterwarnings("ignore", message=".*Any type hint.*", category=UserWarning)
            info = mlflow.lightgbm.log_model(
                model.booster, name="model", input_example=sample.head(5),
                signature=infer_signature(sample, np.asarray(model.booster.predict(sample))),
            )  # fmt: skip
    version = registry.register_uri(unit, info.model_uri, run.info.run_id)
    champion = registry.alias(unit, CHAMPION)
    champion_rmse = None
    if champion is not None:
        booster = mlflow.lightgbm.load_model(f"models:/{registry.name(unit)}@{CHAMPION}")
        champion_rmse = metrics.rmse(y, booster.predict(x))
    decision = registry.decide(
        unit, version, float(result["models"]["lightgbm"]["rmse"]), champion_rmse,
        float(result["models"][BASE_MODEL]["rmse"]), settings.mlops.promotion_margin,
    )  # fmt: skip
    return TrainingRecord(run.info.run_id, version, decision, registry.alias(unit, CHAMPION))
