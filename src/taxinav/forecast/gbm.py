"""LightGBM with a Poisson objective, one model per unit type, trained on all units."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from taxinav.features import FEATURES

PREDICT_ROWS = 500_000  # rows per block handed to the booster


@dataclass
class GbmParams:
    num_leaves: int = 63
    learning_rate: float = 0.05
    min_child_samples: int = 50
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 1.0
    max_rounds: int = 600
    early_stopping: int = 40
    threads: int = 2
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def lgb_params(self) -> dict[str, Any]:
        return {
            "objective": "poisson",
            "metric": "rmse",
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.lambda_l2,
            "num_threads": self.threads,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
            **self.extra,
        }


class LightGbmForecaster:
    """Gradient-boosted trees on the feature table; rounds chosen by early stopping on the
    validation days, which are then folded back in for the final fit."""

    name = "lightgbm"

    def __init__(self, params: GbmParams | None = None, features: tuple[str, ...] = FEATURES):
        self.params = params or GbmParams()
        self.features = features
        self.booster: lgb.Booster | None = None
        self.best_rounds = 0

    def _data(self, frame: pd.DataFrame) -> lgb.Dataset:
        weight = frame["weight"].to_numpy() if "weight" in frame else None
        return lgb.Dataset(
            frame[list(self.features)].astype(np.float32),
            label=frame["y"].to_numpy(dtype=np.float64),
            weight=weight,
            free_raw_data=True,
        )

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame) -> LightGbmForecaster:
        params = self.params.lgb_params()
        dtrain = self._data(train)
        dvalid = self._data(valid)
        probe = lgb.train(
            params,
            dtrain,
            num_boost_round=self.params.max_rounds,
            valid_sets=[dvalid],
            callbacks=[lgb.early_stopping(self.params.early_stopping, verbose=False)],
        )
        self.best_rounds = max(int(probe.best_iteration), 1)
        both = pd.concat([train, valid], ignore_index=True)
        self.booster = lgb.train(params, self._data(both), num_boost_round=self.best_rounds)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if self.booster is None:
            raise RuntimeError("fit the model before predicting")
        # In blocks of rows: the booster copies its input into one matrix, and a week of road
        # rows is millions.
        cols = list(self.features)
        out = [np.asarray(self.booster.predict(frame.iloc[k : k + PREDICT_ROWS][cols]
                                                .astype(np.float32)), dtype=np.float64)
               for k in range(0, len(frame), PREDICT_ROWS)]  # fmt: skip
        return np.concatenate(out) if out else np.zeros(0)

    def importance(self) -> dict[str, float]:
        if self.booster is None:
            return {}
        gain = self.booster.feature_importance(importance_type="gain")
        total = float(gain.sum()) or 1.0
        return {f: float(g) / total for f, g in zip(self.features, gain, strict=True)}
