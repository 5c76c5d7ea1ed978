"""Backtest frames: typed columns (no Python objects), the zero-row sample and its weights."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from taxinav.features import FEATURES
from taxinav.forecast.backtest import (
    TEST_COLUMNS,
    BacktestResult,
    Fitted,
    Split,
    load_frame,
    score_test,
)


def _table(con: duckdb.DuckDBPyConnection) -> str:
    # 2 units x 4 slots; unit "a" has pickups in slots 1 and 3, the last slot's target is
    # incomplete; every feature is the slot number, as DOUBLE like the real table.
    features = ", ".join(f"CAST(slot AS DOUBLE) AS {f}" for f in FEATURES)
    con.execute(f"""
        CREATE TABLE feats AS
        SELECT unit_id, slot, CASE WHEN unit_id = 'a' AND slot % 2 = 1 THEN 2 ELSE 0 END
                   AS y,
               CASE WHEN slot < 3 THEN 1 ELSE 0 END AS y_complete, {features}
        FROM (VALUES ('a'), ('b')) u(unit_id), range(4) s(slot)""")
    return "feats"


def test_columns_are_numbers_not_objects() -> None:
    con = duckdb.connect()
    frame = load_frame(con, _table(con), 0, 4)
    assert len(frame) == 6  # slot 3 has no complete target
    assert all(frame[f].dtype == np.float32 for f in FEATURES)
    assert frame["y"].dtype == np.float64 and frame["weight"].dtype == np.float64
    assert frame["slot"].tolist() == [0, 0, 1, 1, 2, 2]
    assert frame["y"].tolist() == [0, 0, 2, 0, 0, 0]
    assert frame["weight"].tolist() == [1.0] * 6
    assert frame[FEATURES[0]].tolist() == [0, 0, 1, 1, 2, 2]


def test_a_sample_keeps_every_pickup_and_weights_the_kept_zeros() -> None:
    con = duckdb.connect()
    frame = load_frame(con, _table(con), 0, 4, zero_keep=0.25)
    busy = frame[frame["y"] > 0]
    assert busy["slot"].tolist() == [1] and busy["weight"].tolist() == [1.0]
    zeros = frame[frame["y"] == 0]
    assert (zeros["weight"] == 4.0).all()  # 1 / 0.25


def test_the_test_window_keeps_few_columns_and_is_predicted_a_day_at_a_time() -> None:
    con = duckdb.connect()
    # 3 units x 5 days of 4 slots; every target complete; each feature is the slot number.
    features = ", ".join(f"CAST(slot AS DOUBLE) AS {f}" for f in FEATURES)
    con.execute(f"""
        CREATE TABLE feats AS SELECT unit_id, slot, slot % 3 AS y, 1 AS y_complete, {features}
        FROM (VALUES ('a'), ('b'), ('c')) u(unit_id), range(20) s(slot)""")
    test = load_frame(con, "feats", 4, 18, columns=TEST_COLUMNS)
    assert set(test.columns) == {"unit_id", "slot", "y", "weight", *TEST_COLUMNS}

    class Echo:  # predicts each row's first feature, i.e. its slot; counts its calls
        name, calls = "echo", 0

        def predict(self, rows: pd.DataFrame) -> np.ndarray:
            Echo.calls += 1
            return rows[FEATURES[0]].to_numpy(dtype=np.float64)

    # 6-hour slots: a day is 4 slots, so slots 4..17 come in blocks 4-7, 8-11, 12-15, 16-17.
    result = BacktestResult("h3", Split((0, 1), (1, 2), (2, 2), (4, 18)), "2024-01-02", 4, 3,
                            len(test), 0.0, 360, 360)  # fmt: skip
    fitted = Fitted(result, [Echo()], test.iloc[:0], test, con, "feats")  # type: ignore[list-item]
    preds = score_test(fitted, {"twice": lambda rows: 2.0 * rows[FEATURES[0]].to_numpy()})
    assert Echo.calls == 4
    assert preds["echo"].tolist() == test["slot"].astype(float).tolist()
    assert preds["twice"].tolist() == (2.0 * test["slot"]).astype(float).tolist()
    # Scored against y = slot mod 3 on the same rows: the echo's RMSE by hand.
    err = test["slot"].to_numpy() - test["slot"].to_numpy() % 3
    assert result.models["echo"]["rmse"] == pytest.approx(float(np.sqrt(np.mean(err**2))))
    assert "twice" not in result.models
