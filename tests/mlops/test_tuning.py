"""A seeded search finds parameters, saves them, and the next training picks them up."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxinav.forecast.gbm import GbmParams
from taxinav.mlops.tuning import best_params, save_best, tune
from tests.mlops.frames import FEATURES, demand_frame


@pytest.mark.model
def test_search_is_seeded_and_its_best_parameters_are_used_next(tmp_path: Path) -> None:
    base = GbmParams(max_rounds=40, early_stopping=5)
    train, valid = demand_frame(2000, 1), demand_frame(400, 2)
    best, rmse, trials = tune(train, valid, 3, 7, FEATURES, base)
    again, rmse_again, _ = tune(train, valid, 3, 7, FEATURES, base)
    assert len(trials) == 3 and best == again and rmse == rmse_again
    assert rmse == min(t["rmse"] for t in trials)
    assert best_params(tmp_path, "road", base) == base  # nothing tuned yet
    save_best(tmp_path, "road", best, rmse)
    used = best_params(tmp_path, "road", base)
    assert used.num_leaves == best.num_leaves and used.learning_rate == best.learning_rate
    assert used.max_rounds == base.max_rounds  # only the tuned fields change
