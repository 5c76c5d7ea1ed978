"""A training run is logged, registered and gated; a degraded model does not become champion;
with a tracking server, artifacts go to the server's artifact store."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from taxinav.forecast import metrics
from taxinav.forecast.gbm import GbmParams, LightGbmForecaster
from taxinav.mlops.registry import Registry, champion_loader, tracking_uri
from taxinav.mlops.tracking import data_checksum, is_tracking_server, log_training
from taxinav.settings import MlopsSettings, Settings
from tests.mlops.frames import FEATURES, demand_frame


def _result(model: LightGbmForecaster, test: pd.DataFrame) -> dict[str, object]:
    y = test["y"].to_numpy(dtype=float)
    return {
        "unit_type": "road", "test_start": "2008-05-26", "test_days": 1,
        "split_slots": {"test": [0, len(test)]},
        "models": {
            "lightgbm": {"rmse": metrics.rmse(y, model.predict(test))},
            "historical_average": {"rmse": metrics.rmse(y, np.full(len(y), y.mean()))},
        },
    }  # fmt: skip


def _model(train: pd.DataFrame, valid: pd.DataFrame) -> LightGbmForecaster:
    params = GbmParams(num_leaves=7, min_child_samples=10, max_rounds=60, early_stopping=10)
    return LightGbmForecaster(params, FEATURES).fit(train, valid)


@pytest.mark.model
def test_runs_are_logged_and_only_a_better_model_becomes_champion(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "var")
    train, valid, test = demand_frame(3000, 1), demand_frame(500, 2), demand_frame(800, 3)
    good = _model(train, valid)
    first = log_training(settings, _result(good, test), good, test, data_checksum(train), [])
    assert first.decision.promote and first.champion == first.version == "1"

    shuffled = train.assign(y=train["y"].sample(frac=1.0, random_state=0).to_numpy())
    bad = _model(shuffled, valid)  # learned nothing useful: worse than the champion
    second = log_training(settings, _result(bad, test), bad, test, data_checksum(shuffled), [])
    assert not second.decision.promote and second.champion == "1"
    # The champion was re-scored on the same window: its RMSE is the first model's.
    y = test["y"].to_numpy(dtype=float)
    assert second.decision.champion_rmse == pytest.approx(metrics.rmse(y, good.predict(test)))

    registry = Registry(tracking_uri(settings.home))
    run = registry.client.get_run(first.run_id)
    assert run.data.tags["data_checksum"] == data_checksum(train)
    assert "lightgbm.rmse" in run.data.metrics and "historical_average.rmse" in run.data.metrics
    assert run.data.params["unit_type"] == "road"
    assert (tmp_path / "var" / "mlartifacts").is_dir()  # artifacts stay under TAXINAV_HOME

    # What predicts loads @champion: the first model, not the newer degraded one.
    loaded = champion_loader(settings)("road")
    assert loaded is not None and loaded[0] == "1"
    x = test[list(FEATURES)].astype(np.float32)
    np.testing.assert_allclose(loaded[1](x), good.predict(test), rtol=1e-6)
    assert champion_loader(settings.model_copy(update={"mlops": MlopsSettings(track=False)}))(
        "road") is None  # fmt: skip


def test_data_checksum_ignores_row_order() -> None:
    f = demand_frame(50, 0)
    assert data_checksum(f) == data_checksum(f.iloc[::-1])
    assert data_checksum(f) != data_checksum(f.assign(y=f["y"] + 1))


@pytest.mark.parametrize(
    ("uri", "server"),
    [("http://127.0.0.1:5000", True), ("https://mlflow.example.org", True),
     ("sqlite:////tmp/var/mlflow.db", False), ("file:///tmp/mlruns", False),
     ("postgresql://u@db/mlflow", False), ("/tmp/mlruns", False)],
)  # fmt: skip
def test_only_a_tracking_server_chooses_where_artifacts_go(uri: str, server: bool) -> None:
    assert is_tracking_server(uri) is server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real MLflow server on a free loopback port that serves its artifacts itself
    (``--serve-artifacts``), storing them under the returned folder."""
    root = tmp_path_factory.mktemp("mlflow-server")
    artifacts = root / "artifacts"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1",
           "--backend-store-uri", f"sqlite:///{root / 'server.db'}",
           "--serve-artifacts", "--artifacts-destination", str(artifacts)]  # fmt: skip
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited: {(root / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not up: {(root / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url, artifacts
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its workers: its own group
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


@pytest.mark.model
@pytest.mark.slow
def test_with_a_tracking_server_artifacts_go_to_its_artifact_store(
    mlflow_server: tuple[str, Path], tmp_path: Path
) -> None:
    import mlflow
    from mlflow import MlflowClient

    url, artifacts = mlflow_server
    settings = Settings(home=tmp_path / "var", mlops=MlopsSettings(tracking_uri=url))
    train, valid, test = demand_frame(3000, 1), demand_frame(500, 2), demand_frame(800, 3)
    model = _model(train, valid)
    plot = tmp_path / "backtest.png"
    plot.write_bytes(b"not really a png")
    previous = mlflow.get_tracking_uri()
    try:
        record = log_training(settings, _result(model, test), model, test,
                              data_checksum(train), [plot])  # fmt: skip
        client = MlflowClient(url)
        experiment = client.get_experiment_by_name("taxinav-road")
        assert experiment is not None
        assert experiment.artifact_location.startswith("mlflow-artifacts:/")
        assert client.get_run(record.run_id).info.artifact_uri.startswith("mlflow-artifacts:/")
        loaded = champion_loader(settings)("road")  # read back through the server
    finally:
        mlflow.set_tracking_uri(previous)
    stored = {p.name for p in artifacts.rglob("*") if p.is_file()}
    assert {"backtest.png", "feature_importance.json", "MLmodel"} <= stored, stored
    assert not (settings.home / "mlartifacts").exists()  # nothing under TAXINAV_HOME
    assert not (settings.home / "mlflow.db").exists()
    assert loaded is not None and loaded[0] == record.version == "1"
    x = test[list(FEATURES)].astype(np.float32)
    np.testing.assert_allclose(loaded[1](x), model.predict(test), rtol=1e-6)
