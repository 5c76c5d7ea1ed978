"""A logged 'model' for registry tests, its artifacts kept under the test's own folder (the
default experiment would write them to ./mlruns in the working directory)."""

from __future__ import annotations

from pathlib import Path


def log_test_model(uri: str, artifacts: Path) -> str:
    import mlflow

    mlflow.set_tracking_uri(uri)
    name = "taxinav-tests"
    found = mlflow.get_experiment_by_name(name)
    experiment = (
        found.experiment_id
        if found is not None
        else mlflow.create_experiment(name, artifact_location=artifacts.resolve().as_uri())
    )
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_dict({"kind": "test model"}, "model/meta.json")
    return str(run.info.run_id)
