"""A training run is logged, registered and gated on its gate window (never the test window);
a degraded model does not become champion; both windows are recorded on the run and the
version; with a tracking server, artifacts go to the server's artifact store."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from taxinav.forecast import metrics
from taxinav.forecast.gbm import GbmParams, LightGbmForecaster
from taxinav.mlops.registry import Registry, champion_card, champion_loader, tracking_uri
from taxinav.mlops.tracking import data_checksum, is_tracking_server, log_training
from taxinav.settings import MlopsSettings, Settings
from tests.mlops.frames import FEATURES, demand_frame


def _scores(model: LightGbmForecaster, frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    y = frame["y"].to_numpy(dtype=float)
    return {"lightgbm": {"rmse": metrics.rmse(y, model.predict(frame))},
            "historical_average": {"rmse": metrics.rmse(y, np.full(len(y), y.mean()))}}  # fmt: skip


def _result(model: LightGbmForecaster, gate: pd.DataFrame, test: pd.DataFrame,
            gate_start: str = "2008-05-24") -> dict[str, object]:  # fmt: skip
    return {
        "unit_type": "road", "test_start": "2008-05-26", "test_days": 1,
        "trained_before": gate_start,
        "gate": {"start": gate_start, "days": 2, "models": _scores(model, gate)},
        "split_slots": {"test": [0, len(test)]}, "models": _scores(model, test),
    }  # fmt: skip


def _model(train: pd.DataFrame, valid: pd.DataFrame) -> LightGbmForecaster:
    params = GbmParams(num_leaves=7, min_child_samples=10, max_rounds=60, early_stopping=10)
    return LightGbmForecaster(params, FEATURES).fit(train, valid)


@pytest.mark.model
def test_runs_are_logged_and_only_a_better_model_becomes_champion(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "var")
    train, valid = demand_frame(3000, 1), demand_frame(500, 2)
    gate, test = demand_frame(800, 3), demand_frame(800, 4)
    good = _model(train, valid)
    first = log_training(settings, _result(good, gate, test), good, gate, data_checksum(train))
    assert first.decision.promote and first.champion == first.version == "1"
    assert first.decision.window == "2008-05-24 + 2 days"

    shuffled = train.assign(y=train["y"].sample(frac=1.0, random_state=0).to_numpy())
    bad = _model(shuffled, valid)  # learned nothing useful: worse than the champion
    second = log_training(settings, _result(bad, gate, test), bad, gate, data_checksum(shuffled))
    assert not second.decision.promote and second.champion == "1"
    # Both were scored on the gate window, never on the test window: the champion re-scored.
    y = gate["y"].to_numpy(dtype=float)
    assert second.decision.champion_rmse == pytest.approx(metrics.rmse(y, good.predict(gate)))
    assert second.decision.challenger_rmse == pytest.approx(metrics.rmse(y, bad.predict(gate)))
    assert not second.decision.champion_in_sample  # v1 trained before 2008-05-24

    registry = Registry(tracking_uri(settings.home))
    run = registry.client.get_run(first.run_id)
    assert run.data.tags["data_checksum"] == data_checksum(train)
    assert "lightgbm.rmse" in run.data.metrics and "historical_average.rmse" in run.data.metrics
    assert run.data.metrics["gate.lightgbm.rmse"] == pytest.approx(first.decision.challenger_rmse)
    assert run.data.params["unit_type"] == "road"
    windows = {"trained_before": "2008-05-24", "gate_start": "2008-05-24", "gate_days": "2",
               "test_start": "2008-05-26", "test_days": "1"}  # fmt: skip
    assert {k: run.data.params[k] for k in windows} == windows
    tags = registry.client.get_model_version(registry.name("road"), first.version).tags
    assert {k: tags[k] for k in windows} == windows
    assert json.loads(tags["gate_numbers"])["window"] == "2008-05-24 + 2 days"
    assert (tmp_path / "var" / "mlartifacts").is_dir()  # artifacts stay under TAXINAV_HOME

    # What predicts loads @champion: the first model, not the newer degraded one, with the
    # first day its training data did not reach.
    loaded = champion_loader(settings)("road")
    assert loaded is not None and loaded[0] == "1"
    x = test[list(FEATURES)].astype(np.float32)
    np.testing.assert_allclose(loaded[1](x), good.predict(test), rtol=1e-6)
    card = champion_card(settings, "road")
    assert card is not None and card.trained_before == date(2008, 5, 24)
    assert card.in_sample(date(2008, 5, 23)) and not card.in_sample(date(2008, 5, 24))
    assert champion_loader(settings.model_copy(update={"mlops": MlopsSettings(track=False)}))(
        "road") is None  # fmt: skip

    # A gate window the champion had trained on: still compared, and the reason says so.
    third = log_training(settings, _result(bad, gate, test, "2008-05-20"), bad, gate,
                         data_checksum(shuffled))  # fmt: skip
    assert third.decision.champion_in_sample and "in-sample" in third.decision.reason


def test_a_run_without_gate_scores_is_refused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "var")
    model = _model(demand_frame(600, 1), demand_frame(200, 2))
    result = {**_result(model, demand_frame(50, 3), demand_frame(50, 4)), "gate": {}}
    with pytest.raises(ValueError, match="gate window"):
        log_training(settings, result, model, demand_frame(50, 3), "x")


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
        record = log_training(settings, _result(model, test, test), model, test,
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
