"""Stored forecasts are kept per model version and window: the migration of an old warehouse,
a backtest that replaces only its own version's window, and readers that pick one row per
unit × slot (out-of-sample first, then the newest version) and say when it is in-sample."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from taxinav.calendar import Day, local_midnight, slot_table
from taxinav.features import FEATURES, DemandInputs, Slotting
from taxinav.forecast.daily import forecasts_day
from taxinav.guidance.factory import day_demand
from taxinav.mlops.accuracy import accuracy_day
from taxinav.mlops.monitoring import Monitor
from taxinav.mlops.training import store_forecasts
from taxinav.settings import Settings
from taxinav.warehouse import connect, key_is_unique

SETTINGS = Settings()
TZ = SETTINGS.tz
FIRST = date(2008, 5, 17)
Window = tuple[int, int]
OLD_FORECASTS = """CREATE TABLE forecasts (unit_type VARCHAR NOT NULL, model VARCHAR NOT NULL,
    unit_id VARCHAR NOT NULL, slot_start TIMESTAMPTZ NOT NULL, yhat DOUBLE NOT NULL,
    model_version VARCHAR)"""
OLD_ACCURACY = """CREATE TABLE forecast_accuracy (unit_type VARCHAR NOT NULL,
    model VARCHAR NOT NULL, model_version VARCHAR NOT NULL, hour_start TIMESTAMPTZ NOT NULL,
    n BIGINT NOT NULL, rmse DOUBLE NOT NULL, mae DOUBLE NOT NULL, masked_mape DOUBLE)"""


def test_an_old_warehouse_is_migrated_and_migrating_again_changes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute(OLD_FORECASTS)
    old.execute(OLD_ACCURACY)
    at = datetime(2008, 5, 20, 7, tzinfo=TZ)
    old.executemany("INSERT INTO forecasts VALUES ('h3', ?, 'a', ?, 1.5, ?)",
                    [("base", at, None), ("champion", at, "3")])  # fmt: skip
    old.execute("INSERT INTO forecast_accuracy VALUES ('h3', 'base', '', ?, 1, 1, 1, NULL)", [at])
    old.close()

    for _ in range(2):
        con = connect(path)
        rows = con.execute("SELECT model, model_version, in_sample FROM forecasts ORDER BY 1")
        assert rows.fetchall() == [("base", "", None), ("champion", "3", None)]
        columns = {r[0]: r[2] for r in con.execute("DESCRIBE forecasts").fetchall()}
        assert columns["model_version"] == "NO" and "in_sample" in columns
        assert con.execute("SELECT in_sample FROM forecast_accuracy").fetchall() == [(None,)]
        assert key_is_unique(con, "forecasts")
        with pytest.raises(duckdb.ConstraintException):
            con.execute("INSERT INTO forecasts VALUES ('h3', 'base', 'b', ?, 1, NULL, false)",
                        [at])  # fmt: skip
        con.close()


def _inputs(days: int = 12) -> DemandInputs:
    origin = local_midnight(FIRST, TZ)
    empty = pa.table({"unit_id": pa.array([], pa.string())})
    return DemandInputs("road", empty, slot_table(origin, days * 144, 10, TZ), empty, empty,
                        empty, origin, Slotting(10, 3), TZ)  # fmt: skip


def _test_frame(day: date, units: tuple[str, ...] = ("0", "1")) -> tuple[pd.DataFrame, Window]:
    first = (day - FIRST).days * 144
    slots = np.repeat(np.arange(first, first + 144), len(units))
    frame = pd.DataFrame({"unit_id": list(units) * 144, "slot": slots})
    return frame, (first, first + 144)


def _stored(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return con.execute(
        """SELECT model_version, timezone(?, slot_start)::DATE, in_sample, count(*), max(yhat)
           FROM forecasts GROUP BY ALL ORDER BY ALL""",
        [SETTINGS.timezone],
    ).fetchall()


def test_a_backtest_replaces_only_its_own_versions_window(con: duckdb.DuckDBPyConnection) -> None:
    inputs = _inputs()
    a, b = date(2008, 5, 25), date(2008, 5, 26)
    (frame_a, win_a), (frame_b, win_b) = _test_frame(a), _test_frame(b)
    n = len(frame_a)

    def store(frame: pd.DataFrame, win: tuple[int, int], value: float, version: str,
              before: date | None) -> int:  # fmt: skip
        preds = {"lightgbm": np.full(n, value)}
        return store_forecasts(con, inputs, frame, preds, version, before, win)

    assert store(frame_a, win_a, 1.0, "1", a) == n  # trained on days before the window
    assert store(frame_b, win_b, 1.0, "1", a) == n  # another window: the first stays
    assert store(frame_a, win_a, 2.0, "2", b) == n  # a version trained on day a: in-sample
    assert store(frame_a, win_a, 1.5, "1", a) == n  # re-run: replaces only its own rows
    assert store(frame_a, win_a, 9.0, "", None) == n  # untracked: version '', window unknown
    assert _stored(con) == [
        ("", a, None, n, 9.0),
        ("1", a, False, n, 1.5),
        ("1", b, False, n, 1.0),
        ("2", a, True, n, 2.0),
    ]
    assert key_is_unique(con, "forecasts")


def _road_rows(
    con: duckdb.DuckDBPyConnection, day: date, model: str, version: str,
    in_sample: bool | None, value: float, slots: range = range(144),
) -> None:  # fmt: skip
    start = local_midnight(day, TZ)
    rows = pa.table({
        "unit_type": ["road"] * (3 * len(slots)), "model": [model] * (3 * len(slots)),
        "unit_id": [str(u) for _ in slots for u in range(3)],
        "slot_start": pa.array([start + timedelta(minutes=10 * s) for s in slots for _ in range(3)],
                               pa.timestamp("us", tz="UTC")),
        "yhat": [value] * (3 * len(slots)), "model_version": [version] * (3 * len(slots)),
        "in_sample": pa.array([in_sample] * (3 * len(slots)), pa.bool_()),
    })  # fmt: skip
    con.register("rows", rows)
    con.execute("INSERT INTO forecasts BY NAME SELECT * FROM rows")
    con.unregister("rows")


def test_guidance_routes_on_one_row_per_slot_and_says_when_it_is_in_sample(
    con: duckdb.DuckDBPyConnection,
) -> None:
    horizon_s = Slotting.of_forecast(SETTINGS.forecast).horizon_s
    hourly = np.ones((24, 3))
    d1, d2, d3 = date(2008, 5, 26), date(2008, 5, 27), date(2008, 5, 28)
    # Day 1: out-of-sample v1 and v2 (v2 newer), in-sample v3 and an in-sample champion.
    _road_rows(con, d1, "lightgbm", "1", False, 1.0)
    _road_rows(con, d1, "lightgbm", "2", False, 2.0)
    _road_rows(con, d1, "lightgbm", "10", True, 3.0)  # versions compare as numbers
    _road_rows(con, d1, "champion", "10", True, 5.0)
    got = day_demand(con, SETTINGS, 3, local_midnight(d1, TZ), hourly)
    np.testing.assert_allclose(got.rate, 2.0 / horizon_s)
    assert got.source == "forecast"
    # An out-of-sample champion of the pipeline comes before the backtest's model.
    _road_rows(con, d1, "champion", "2", False, 4.0)
    got = day_demand(con, SETTINGS, 3, local_midnight(d1, TZ), hourly)
    np.testing.assert_allclose(got.rate, 4.0 / horizon_s)

    # Day 2: only a version that had trained on the day — used, and said.
    _road_rows(con, d2, "lightgbm", "10", True, 3.0)
    got = day_demand(con, SETTINGS, 3, local_midnight(d2, TZ), hourly)
    np.testing.assert_allclose(got.rate, 3.0 / horizon_s)
    assert got.source == "in-sample forecast"
    assert "in-sample" in got.label["source"]

    # Day 3: in-sample in the morning only.
    _road_rows(con, d3, "lightgbm", "10", True, 3.0, range(72))
    _road_rows(con, d3, "lightgbm", "2", False, 2.0, range(72, 144))
    got = day_demand(con, SETTINGS, 3, local_midnight(d3, TZ), hourly)
    assert got.source == "partly in-sample forecast"
    np.testing.assert_allclose(got.rate[:72], 3.0 / horizon_s)
    np.testing.assert_allclose(got.rate[72:], 2.0 / horizon_s)


def test_realised_accuracy_scores_one_champion_row_per_unit_and_slot(
    con: duckdb.DuckDBPyConnection,
) -> None:
    d = Day.of(date(2008, 5, 20), TZ)
    x = [math.nan] * len(FEATURES)
    x[FEATURES.index("ha_all")] = 1.0
    slots = [d.start + timedelta(minutes=10 * k) for k in range(144)]
    features = pa.table({
        "unit_type": ["h3"] * 288, "unit_id": ["a"] * 144 + ["b"] * 144,
        "slot_start": pa.array(slots * 2, pa.timestamp("us", tz="UTC")),
        "y": [2.0] * 144 + [0.0] * 144, "y_complete": [1] * 288, "x": [x] * 288,
    })  # fmt: skip
    con.register("rows", features)
    con.execute("INSERT INTO unit_features BY NAME SELECT * FROM rows")
    con.unregister("rows")
    forecasts_day(con, "h3", d, lambda unit: None, SETTINGS.forecast.valid_days)
    # Two champion versions of the same day: v5 had trained on it, v4 had not.
    for version, in_sample, value in (("5", True, 3.0), ("4", False, 2.0)):
        con.execute(
            """INSERT INTO forecasts SELECT unit_type, 'champion', unit_id, slot_start, ?, ?, ?
               FROM forecasts WHERE model = 'base'""",
            [value, version, in_sample],
        )
    out = accuracy_day(con, TZ, "h3", d, Monitor([], 3))
    assert out["champion_version"] == "4" and out["in_sample_hours"] == 0
    assert out["champion_rmse"] == pytest.approx(math.sqrt(2))  # 2 vs 2 and 2 vs 0
