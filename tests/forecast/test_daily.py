"""Daily forecasts and their realised accuracy on hand-built features: the champion loaded
through the loader, errors by hand, and accuracy alerts that span days once per episode."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from taxinav.calendar import Day
from taxinav.features import FEATURES
from taxinav.forecast.daily import forecasts_day
from taxinav.mlops.accuracy import accuracy_day
from taxinav.mlops.monitoring import Alert, Monitor
from taxinav.settings import Settings

D0 = date(2008, 5, 20)
Y = {"a": 2.0, "b": 0.0}  # every slot of the day: unit a sees 2 pickups, unit b none


class Collect:
    def __init__(self) -> None:
        self.got: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.got.append(alert)


def _features(con: duckdb.DuckDBPyConnection, d: Day) -> None:
    x = [math.nan] * len(FEATURES)
    x[FEATURES.index("ha_all")] = 1.0  # the base model's fallback column predicts 1
    slots = [d.start + timedelta(minutes=10 * k) for k in range(144)]
    rows = pa.table({
        "unit_type": ["h3"] * 288, "unit_id": ["a"] * 144 + ["b"] * 144,
        "slot_start": pa.array(slots * 2, pa.timestamp("us", tz="UTC")),
        "y": [Y["a"]] * 144 + [Y["b"]] * 144, "y_complete": [1] * 288,
        "x": [x] * 288,
    })  # fmt: skip
    con.register("rows", rows)
    con.execute("INSERT INTO unit_features BY NAME SELECT * FROM rows")
    con.unregister("rows")


def _champion(value: float) -> object:
    def load(unit: str) -> tuple[str, object]:
        assert unit == "h3"
        return "7", lambda frame: np.full(len(frame), value)

    return load


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "var")


def test_forecasts_store_the_champion_and_its_version_and_the_base_model(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    d = Day.of(D0, settings.tz)
    _features(con, d)
    out = forecasts_day(con, "h3", d, _champion(3.0), settings.forecast.valid_days)  # type: ignore[arg-type]
    assert out["champion"] == "7" and out["rows"] == 288
    got = con.execute("""SELECT model, min(yhat), max(yhat), count(*), min(model_version),
                                any_value(in_sample), count(DISTINCT in_sample)
                         FROM forecasts GROUP BY ALL ORDER BY 1""").fetchall()  # fmt: skip
    # The base model's version is ''; a loader without a training window: in_sample unknown.
    assert got == [("base", 1.0, 1.0, 288, "", False, 1), ("champion", 3.0, 3.0, 288, "7", None, 0)]


def test_without_a_champion_only_the_base_model_is_served(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    d = Day.of(D0, settings.tz)
    _features(con, d)
    out = forecasts_day(con, "h3", d, lambda unit: None, settings.forecast.valid_days)
    assert out["champion"] is None
    assert con.execute("SELECT DISTINCT model FROM forecasts").fetchall() == [("base",)]


def test_realised_errors_by_hand_and_one_alert_per_episode_across_days(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    # Champion 3 vs actual 2 and 0: RMSE √((1 + 9) / 2) = √5 each hour; base 1: RMSE 1.
    plan = {0: 3.0, 1: 3.0, 2: 1.0, 3: 3.0}  # worse, worse, as good (not worse), worse
    sink = Collect()
    monitor = Monitor([sink], consecutive_windows=3)
    per_day = []
    for k, value in plan.items():
        d = Day.of(D0 + timedelta(days=k), settings.tz)
        _features(con, d)
        forecasts_day(con, "h3", d, _champion(value), settings.forecast.valid_days)  # type: ignore[arg-type]
        before = len(sink.got)
        out = accuracy_day(con, settings.tz, "h3", d, monitor)
        per_day.append(len(sink.got) - before)
        assert out["hours"] == 24 and out["champion_version"] == "7"
    # Day 0 starts an episode (alert at its 3rd hour); day 1 continues it across midnight;
    # day 2 ends it; day 3 starts a new one.
    assert per_day == [1, 0, 0, 1]
    rows = con.execute("""SELECT model, min(rmse), max(rmse), count(*), sum(n)
                          FROM forecast_accuracy WHERE hour_start < ?
                          GROUP BY ALL ORDER BY 1""",
                       [Day.of(D0, settings.tz).end]).fetchall()  # fmt: skip
    assert rows[0][0] == "base" and rows[0][1:4] == (1.0, 1.0, 24) and rows[0][4] == 288
    assert rows[1][0] == "champion"
    assert rows[1][1] == pytest.approx(math.sqrt(5)) and rows[1][2] == pytest.approx(math.sqrt(5))


def test_rerunning_a_day_replaces_its_accuracy_rows(
    con: duckdb.DuckDBPyConnection, settings: Settings
) -> None:
    d = Day.of(D0, settings.tz)
    _features(con, d)
    forecasts_day(con, "h3", d, _champion(3.0), settings.forecast.valid_days)  # type: ignore[arg-type]
    accuracy_day(con, settings.tz, "h3", d, Monitor([], 3))
    first = con.execute("SELECT * FROM forecast_accuracy ORDER BY ALL").fetchall()
    accuracy_day(con, settings.tz, "h3", d, Monitor([], 3))
    assert con.execute("SELECT * FROM forecast_accuracy ORDER BY ALL").fetchall() == first
    assert len(first) == 48
    hours = pd.to_datetime([r[3] for r in first[:24]])
    assert hours.min() == pd.Timestamp(d.start)
