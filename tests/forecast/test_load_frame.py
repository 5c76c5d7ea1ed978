"""Backtest frames: typed columns (no Python objects), the zero-row sample and its weights."""

from __future__ import annotations

import duckdb
import numpy as np

from taxinav.features import FEATURES
from taxinav.forecast.backtest import load_frame


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
