"""On a small real slice: no feature looks into the future, and LightGBM beats the
historical average on the following day (the model-validity check)."""

from __future__ import annotations

from datetime import date

import duckdb
import ibis
import numpy as np
import pytest

from taxinav.features import FEATURES, build_features, h3_inputs
from taxinav.features.materialize import materialize
from taxinav.forecast import metrics
from taxinav.forecast.backtest import run_backtest
from taxinav.forecast.baselines import HistoricalAverage
from taxinav.forecast.gbm import GbmParams, LightGbmForecaster
from taxinav.settings import Settings

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def warehouse(small_warehouse: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    return small_warehouse


def test_perturbing_the_future_leaves_earlier_features_unchanged(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    inputs = h3_inputs(warehouse, Settings().tz, resolution=8)
    t = inputs.slot_at(inputs.origin) + 4 * 144 + 60  # day 4, 10:00
    con = ibis.duckdb.connect()

    def features(counts_shift: int) -> dict[tuple[str, int], dict[str, object]]:
        counts = inputs.counts.to_pandas()
        counts.loc[counts["slot"] >= t, "n"] += counts_shift
        sup = inputs.supply.to_pandas()
        sup.loc[sup["slot"] >= t, "vehicles"] += counts_shift
        tables = [
            con.create_table(name, data, overwrite=True)
            for name, data in (
                ("u", inputs.units),
                ("s", inputs.slots),
                ("c", counts),
                ("v", sup),
                ("n", inputs.neighbors),
            )
        ]
        out = build_features(*tables).filter(ibis._.slot.between(t - 3, t)).to_pyarrow()
        return {(r["unit_id"], r["slot"]): r for r in out.to_pylist()}

    before, after = features(0), features(7)
    assert before.keys() == after.keys() and before
    for key, row in before.items():
        for f in FEATURES:
            assert row[f] == after[key][f], f"{f} at {key} moved when the future changed"
    assert any(row["y"] != after[key]["y"] for key, row in before.items() if key[1] == t)


@pytest.mark.model
def test_lightgbm_beats_historical_average_on_the_next_day(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    inputs = h3_inputs(warehouse, Settings().tz, resolution=9)
    assert inputs.units.num_rows > 150  # "a few hundred units"
    table = materialize(warehouse, inputs)
    models = [HistoricalAverage(), LightGbmForecaster(GbmParams(max_rounds=300))]
    result, preds, test = run_backtest(warehouse, table, inputs, date(2008, 5, 23), 1, models)
    y = test["y"].to_numpy(dtype=np.float64)
    gbm, ha = metrics.rmse(y, preds["lightgbm"]), metrics.rmse(y, preds["historical_average"])
    assert gbm < ha, f"LightGBM RMSE {gbm:.4f} not below historical average {ha:.4f}"
    assert result.models["lightgbm"]["calibration"] == pytest.approx(1.0, abs=0.15)
