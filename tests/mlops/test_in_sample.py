"""A champion is never scored in-sample without saying so: its forecasts of a day it was
trained on are labelled, those hours are stored as in-sample and kept out of the accuracy
alerts and the headline RMSE, and the Prometheus textfile carries the label."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from prometheus_client.parser import text_string_to_metric_families

from taxinav.calendar import Day
from taxinav.features import FEATURES
from taxinav.forecast.daily import forecasts_day
from taxinav.mlops.accuracy import accuracy_day
from taxinav.mlops.metrics import build_registry, write_textfile
from taxinav.mlops.monitoring import Alert, Monitor
from taxinav.mlops.registry import ModelCard
from taxinav.settings import Settings

D0 = date(2008, 5, 20)
TRAINED_BEFORE = D0 + timedelta(days=2)  # the champion's training data: every day before it


class Collect:
    def __init__(self) -> None:
        self.got: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.got.append(alert)


def _features(con: duckdb.DuckDBPyConnection, d: Day) -> None:
    """Unit a sees 2 pickups in every slot, unit b none; the base model predicts 1."""
    x = [math.nan] * len(FEATURES)
    x[FEATURES.index("ha_all")] = 1.0
    slots = [d.start + timedelta(minutes=10 * k) for k in range(144)]
    rows = pa.table({
        "unit_type": ["h3"] * 288, "unit_id": ["a"] * 144 + ["b"] * 144,
        "slot_start": pa.array(slots * 2, pa.timestamp("us", tz="UTC")),
        "y": [2.0] * 144 + [0.0] * 144, "y_complete": [1] * 288, "x": [x] * 288,
    })  # fmt: skip
    con.register("rows", rows)
    con.execute("INSERT INTO unit_features BY NAME SELECT * FROM rows")
    con.unregister("rows")


def _card(unit: str) -> ModelCard:
    """A champion worse than the base every hour (RMSE √5 against 1)."""
    assert unit == "h3"
    return ModelCard("taxinav-h3", "4", TRAINED_BEFORE, lambda f: np.full(len(f), 3.0))


def _labels(path: Path) -> dict[tuple[str, str, str], str]:
    """(unit_type, model, metric) → in_sample label of the realised-error gauge."""
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            if s.name == "taxinav_forecast_realised_error":
                key = (s.labels["unit_type"], s.labels["model"], s.labels["metric"])
                out[key] = s.labels["in_sample"]
    return out


def test_in_sample_hours_are_labelled_and_never_alert(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "var")
    sink = Collect()
    monitor = Monitor([sink], consecutive_windows=3)
    inside, after = Day.of(D0, settings.tz), Day.of(TRAINED_BEFORE, settings.tz)

    # A day the champion was trained on.
    _features(con, inside)
    out = forecasts_day(con, "h3", inside, _card, settings.forecast.valid_days)
    assert out["champion"] == "4" and out["champion_in_sample"] is True
    got = con.execute("""SELECT model, model_version, in_sample, count(*) FROM forecasts
                         GROUP BY ALL ORDER BY 1""").fetchall()  # fmt: skip
    assert got == [("base", "", False, 288), ("champion", "4", True, 288)]
    acc = accuracy_day(con, settings.tz, "h3", inside, monitor)
    # Worse than the base for 24 hours, but every hour is in-sample: no alert, no headline.
    assert sink.got == [] and acc["alerts"] == []
    assert acc["hours"] == 24 and acc["in_sample_hours"] == 24
    assert acc["champion_rmse"] is None and acc["base_rmse"] is None
    assert acc["champion_rmse_in_sample"] == pytest.approx(math.sqrt(5))
    assert acc["base_rmse_in_sample"] == pytest.approx(1.0)
    stored = con.execute("""SELECT model, model_version, in_sample, count(*)
                            FROM forecast_accuracy GROUP BY ALL ORDER BY 1""").fetchall()
    assert stored == [("base", "", False, 24), ("champion", "4", True, 24)]
    path = write_textfile(build_registry(con, settings.home, {"h3": "4"}), settings.home)
    labels = _labels(path)
    assert labels[("h3", "champion", "rmse")] == "true"
    assert labels[("h3", "base", "rmse")] == "false"

    # The first day after its training data: out-of-sample, and the alert fires at the third
    # worse hour. Had the in-sample hours counted, the episode would have started on the
    # first day and would not fire again here.
    _features(con, after)
    out = forecasts_day(con, "h3", after, _card, settings.forecast.valid_days)
    assert out["champion_in_sample"] is False
    acc = accuracy_day(con, settings.tz, "h3", after, monitor)
    assert acc["in_sample_hours"] == 0 and "champion_rmse_in_sample" not in acc
    assert acc["champion_rmse"] == pytest.approx(math.sqrt(5))
    assert acc["base_rmse"] == pytest.approx(1.0)
    assert len(sink.got) == 1 and len(acc["alerts"]) == 1
    assert sink.got[0].at.startswith(f"{after.day} 02:00")  # the day's third hour
    per_day = con.execute(
        """SELECT timezone(?, hour_start)::DATE, in_sample, count(*) FROM forecast_accuracy
           WHERE model = 'champion' GROUP BY ALL ORDER BY 1""",
        [settings.timezone],
    ).fetchall()
    assert per_day == [(D0, True, 24), (TRAINED_BEFORE, False, 24)]
    labels = _labels(write_textfile(build_registry(con, settings.home, {"h3": "4"}),
                                    settings.home))  # fmt: skip
    assert labels[("h3", "champion", "rmse")] == "false"

    # Re-scoring the in-sample day later does not fire either (the replay skips it too).
    again = accuracy_day(con, settings.tz, "h3", inside, Monitor([sink], consecutive_windows=3))
    assert again["alerts"] == [] and len(sink.got) == 1
