"""A training run is logged, registered and gated; a degraded model does not become champion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from taxinav.forecast import metrics
from taxinav.forecast.gbm import GbmParams, LightGbmForecaster
from taxinav.mlops.registry import Registry, champion_loader, tracking_uri
from taxinav.mlops.tracking import data_checksum, log_training
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
