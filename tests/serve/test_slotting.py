"""The service at 15-minute slots: its live road forecast equals the stored forecasts of the
same model, and the plan's rates are those forecasts over the same 30-minute horizon."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pytest

from taxinav.calendar import Day
from taxinav.features import FEATURES, Slotting
from taxinav.features.counts import CountSpec, demand_day
from taxinav.forecast.daily import features_day, forecasts_day
from taxinav.guidance import DayDemand, LiveDemand
from taxinav.roads import read_graph
from taxinav.serve.online import DayForecaster, forecast_now
from taxinav.settings import ForecastSettings
from taxinav.warehouse import open_warehouse
from tests.serve.conftest import DAYS, _settings

pytestmark = [pytest.mark.data, pytest.mark.slow]


def _champion(x: Any) -> np.ndarray:
    """A stand-in model that reads recent, neighbour and historical features."""
    out: np.ndarray = (x["r30"].to_numpy() + 0.5 * np.nan_to_num(x["nb1_r60"].to_numpy())
                       + np.nan_to_num(x["ha_all"].to_numpy()))  # fmt: skip
    return out


def test_live_road_forecast_at_15_minute_slots_equals_the_stored_one(
    served_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "var"
    home.mkdir()
    shutil.copy(served_home / "var" / "warehouse.duckdb", home / "warehouse.duckdb")
    s = _settings(served_home, home).model_copy(
        update={"forecast": ForecastSettings(slot_minutes=15)}
    )
    spec = CountSpec.of(s)
    assert spec.slotting == Slotting(15, 2)
    con = open_warehouse(s)
    graph = read_graph(con)
    for day in DAYS:  # the pipeline's counts, at 15-minute slots
        demand_day(con, spec, graph, Day.of(day, s.tz))
    d = Day.of(DAYS[1], s.tz)
    features_day(con, spec, graph, "road", d)
    forecasts_day(con, "road", d, lambda unit: ("7", _champion), s.forecast.valid_days)
    # The slot after the busiest half hour of the day (road pickups).
    busiest = con.execute(
        """SELECT slot_start FROM demand_counts WHERE unit_type = 'road'
           AND slot_start >= ? AND slot_start < ? GROUP BY ALL
           ORDER BY sum(pickups) DESC, slot_start LIMIT 1""", [d.start, d.end],
    ).fetchall()[0][0]  # fmt: skip
    slot = busiest + timedelta(minutes=15)
    stored = dict(con.execute(
        """SELECT unit_id, yhat FROM forecasts WHERE unit_type = 'road'
           AND model = 'champion' AND slot_start = ?""", [slot]).fetchall())  # fmt: skip
    # What a live service holds 7 minutes into the slot: every count up to now.
    counts = con.sql(
        """SELECT unit_id, slot_start, pickups, vacant FROM demand_counts
           WHERE unit_type = 'road' AND slot_start <= $s""",
        params={"s": slot},
    ).to_arrow_table()
    hand = con.execute(  # r30 by hand: pickups in the half hour before, two slots
        """SELECT unit_id, sum(pickups) FROM demand_counts WHERE unit_type = 'road'
           AND slot_start >= ? AND slot_start < ? GROUP BY ALL""",
        [slot - timedelta(minutes=30), slot],
    ).fetchall()
    con.close()

    out = forecast_now(s, graph, "road", counts, slot + timedelta(minutes=7), _champion)
    # The service's refresher keeps the day's state and splices the live counts in: the same.
    day = DayForecaster(s, graph, "road", counts, d.start)
    kept = day.forecast(counts.filter(pc.greater_equal(counts["slot_start"], d.start)),
                        slot + timedelta(minutes=7), _champion)  # fmt: skip
    assert kept is not None and kept.slot_start == slot and kept.unit_id == out.unit_id
    np.testing.assert_allclose(kept.yhat, out.yhat, rtol=1e-9)
    assert out.slot_start == slot
    live = dict(zip(out.unit_id, out.yhat.tolist(), strict=True))
    assert len(stored) == graph.n_segments and stored.keys() == live.keys()
    np.testing.assert_allclose([live[u] for u in stored], list(stored.values()), rtol=1e-9)
    assert sum(n for _, n in hand) > 0
    assert all(live[u] >= n for u, n in hand)  # r30 (with the rest ≥ 0) is in every forecast

    # The plan's demand for the slot: the forecast over the horizon, per second.
    sl = Slotting.of_forecast(s.forecast)
    n = graph.n_segments
    plan = LiveDemand(DayDemand(d.start, sl.slot_s, np.zeros((sl.per_day, n)), "forecast"))
    units = np.array([int(u) for u in out.unit_id])
    assert plan.set_slot(plan.slot_of(slot), units, out.yhat / sl.horizon_s)
    t = (slot - d.start).total_seconds() + 60
    np.testing.assert_allclose(plan.at(t)[units] * 1800.0, out.yhat)
    assert not plan.stored.rate.any()  # the stored forecasts are never written to
    assert len(FEATURES) == 24
