"""Experiment tracking: every forecast training run logged to MLflow, registered, gated.

A run logs its parameters (with its windows: ``trained_before``, the gate window and the test
window), the git commit, the data window and a checksum of the training data, the metrics of
the model and of every baseline on the gate window (``gate.<model>.<metric>``) and on the test
window (``<model>.<metric>``), the feature importance and the report's plots, and the LightGBM
model with its signature. The model becomes the registry's challenger; the gate compares it, on
the run's gate window — days after its training data, before the test window — with the
current champion (re-scored on those days) and with the base model (tuned historical average).
The test window is scored after the decision (``log_test``) and never decides anything.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from taxinav.forecast import metrics
from taxinav.forecast.gbm import LightGbmForecaster
from taxinav.mlops.registry import (
    CHAMPION,
    Decision,
    Registry,
    tracking_uri,
    trained_before,
)
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


def windows(result: dict[str, Any]) -> dict[str, str]:
    """A run's windows as parameters and version tags: the first day not in the training
    data, the gate window and the test window (first local day and number of days)."""
    gate = result.get("gate") or {}
    return {"trained_before": str(result.get("trained_before") or result["test_start"]),
            "gate_start": str(gate.get("start", "")), "gate_days": str(gate.get("days", 0)),
            "test_start": str(result["test_start"]),
            "test_days": str(result["test_days"])}  # fmt: skip


def _log_scores(result: dict[str, Any]) -> None:
    import mlflow

    for prefix, models in (("gate.", (result.get("gate") or {}).get("models", {})),
                           ("", result.get("models", {}))):  # fmt: skip
        for name, scores in models.items():
            mlflow.log_metrics({f"{prefix}{name}.{k}": float(v) for k, v in scores.items()
                                if isinstance(v, int | float) and np.isfinite(v)})  # fmt: skip


def log_training(
    settings: Settings, result: dict[str, Any], model: LightGbmForecaster,
    gate: pd.DataFrame, checksum: str, figures: Sequence[Path] = (),
) -> TrainingRecord:  # fmt: skip
    """Log one training run, register its model and apply the promotion gate on the run's
    gate window. ``result``: the backtest's JSON (``BacktestResult.to_json``) with the gate
    window's scores; test scores (``models``) are logged when present — the backtest job adds
    them after the decision with ``log_test``. ``gate``: the gate window's rows, on which the
    current champion is re-scored. ``checksum``: of the data the run used (``data_checksum``)."""
    import mlflow
    from mlflow.models import infer_signature

    assert model.booster is not None, "log a fitted model"
    unit = result["unit_type"]
    scores = (result.get("gate") or {}).get("models", {})
    if "lightgbm" not in scores or BASE_MODEL not in scores or gate.empty:
        raise ValueError("a training run is gated on its gate window: score the models there")
    registry = Registry.from_settings(settings)
    x = gate[list(model.features)].astype(np.float32)
    y = gate["y"].to_numpy(dtype=np.float64)
    spans = windows(result)
    with mlflow.start_run(experiment_id=experiment_id(settings, unit),
                          run_name=f"{unit} test {result['test_start']}") as run:  # fmt: skip
        mlflow.log_params({"unit_type": unit, **spans, "seed": settings.seed,
                           "rounds": model.best_rounds, **model.params.lgb_params()})  # fmt: skip
        mlflow.set_tags({"git_commit": git_commit(), "data_checksum": checksum,
                         "data_window": str(result.get("split_slots", ""))})  # fmt: skip
        _log_scores(result)
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
    for key, value in spans.items():
        registry.client.set_model_version_tag(registry.name(unit), version, key, value)
    champion = registry.alias(unit, CHAMPION)
    champion_rmse, champion_in_sample = None, False
    if champion is not None:  # the current champion, on the same gate days
        booster = mlflow.lightgbm.load_model(f"models:/{registry.name(unit)}@{CHAMPION}")
        champion_rmse = metrics.rmse(y, booster.predict(x))
        before = trained_before(registry, unit, champion)
        champion_in_sample = before is not None and date.fromisoformat(spans["gate_start"]) < before
    decision = registry.decide(
        unit, version, float(scores["lightgbm"]["rmse"]), champion_rmse,
        float(scores[BASE_MODEL]["rmse"]), settings.mlops.promotion_margin,
        window=f"{spans['gate_start']} + {spans['gate_days']} days",
        champion_in_sample=champion_in_sample,
    )  # fmt: skip
    return TrainingRecord(run.info.run_id, version, decision, registry.alias(unit, CHAMPION))


def log_test(settings: Settings, run_id: str, result: dict[str, Any],
             figures: Sequence[Path] = ()) -> None:  # fmt: skip
    """Add the test window's scores (``<model>.<metric>``) and the report's plots to a
    training run, after its gate decided."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(settings.home, settings.mlops.tracking_uri))
    with mlflow.start_run(run_id=run_id):
        _log_scores({"models": result.get("models", {})})
        for f in figures:
            mlflow.log_artifact(str(f), "plots")


def log_job(settings: Settings, run_id: str, peak_gib: float, seconds: float) -> None:
    """Record a training job's peak resident memory (GiB) and seconds with its run."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri(settings.home, settings.mlops.tracking_uri))
    client.log_metric(run_id, "job.peak_rss_gib", peak_gib)
    client.log_metric(run_id, "job.seconds", seconds)
