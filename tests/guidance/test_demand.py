"""Demand sources of a guided simulation, checked against rates computed by hand: slot lookup,
historical hourly means, the day's real pickups (oracle), the model-window guard, and the
closed-loop forecast on a hand-built road network with a model whose answer is known."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from taxinav.calendar import local_midnight
from taxinav.features import Slotting
from taxinav.guidance.demand import (
    ClosedLoopForecast,
    SlotDemand,
    check_model_window,
    closed_loop_state,
    historical_demand,
    oracle_demand,
    road_history,
)
from taxinav.guidance.telemetry import FixStream
from taxinav.mlops.registry import ModelCard
from taxinav.roads import build_graph, read_osm
from taxinav.roads.graph import RoadGraph
from tests.roads.small_network import write_osm

TZ = ZoneInfo("America/Los_Angeles")
DAY = date(2008, 5, 18)
ORIGIN = local_midnight(DAY, TZ)  # 07:00 UTC


def test_slot_demand_picks_the_slot_and_clamps_to_the_ends() -> None:
    rate = np.arange(12, dtype=np.float64).reshape(4, 3)
    d = SlotDemand(rate, 600.0, {"source": "test"})
    np.testing.assert_array_equal(d.at(0.0), [0, 1, 2])
    np.testing.assert_array_equal(d.at(599.9), [0, 1, 2])
    np.testing.assert_array_equal(d.at(600.0), [3, 4, 5])
    np.testing.assert_array_equal(d.at(1799.0), [6, 7, 8])
    np.testing.assert_array_equal(d.at(-30.0), [0, 1, 2])
    np.testing.assert_array_equal(d.at(2400.0), [9, 10, 11])
    np.testing.assert_array_equal(d.at(1e9), [9, 10, 11])


def test_historical_demand_is_the_hour_mean_per_second_wrapping_midnight() -> None:
    hourly = np.column_stack([np.arange(24.0) * 36.0, np.full(24, 7200.0)])  # [24, 2]
    d = historical_demand(hourly, 22, 1800.0, 8, {"source": "historical", "model": None})
    # 30-minute slots from 22:00: hours 22, 22, 23, 23, 0, 0, 1, 1
    hours = [22, 22, 23, 23, 0, 0, 1, 1]
    expected = np.array([[h * 36.0 / 3600.0, 2.0] for h in hours])
    np.testing.assert_allclose(d.rate, expected, rtol=0, atol=1e-15)
    assert d.rate.shape == (8, 2)
    assert d.slot_s == 1800.0 and d.label == {"source": "historical", "model": None}
    np.testing.assert_allclose(d.at(2 * 1800.0 + 5.0), [23 * 0.01, 2.0])


def _counts_con(rows: list[tuple[str, str, datetime, int, int]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        """CREATE TABLE demand_counts (unit_type VARCHAR NOT NULL, unit_id VARCHAR NOT NULL,
           slot_start TIMESTAMPTZ NOT NULL, pickups BIGINT NOT NULL, vacant BIGINT NOT NULL)"""
    )
    con.executemany("INSERT INTO demand_counts VALUES (?, ?, ?, ?, ?)", rows)
    return con


def _at(minutes: float) -> datetime:
    return ORIGIN + timedelta(minutes=minutes)


def test_oracle_rate_is_the_days_pickups_over_the_horizon() -> None:
    con = _counts_con(
        [
            ("road", "0", _at(0), 2, 9),
            ("road", "0", _at(10), 1, 9),
            ("road", "0", _at(30), 4, 9),
            ("road", "2", _at(20), 3, 9),
            ("road", "1", _at(23 * 60 + 50), 5, 9),  # the day's last slot
            ("h3", "0", _at(0), 100, 9),  # another unit type
            ("road", "0", _at(-10), 50, 9),  # the day before
            ("road", "1", _at(24 * 60), 70, 9),  # the next day
        ]
    )
    d = oracle_demand(con, 3, ORIGIN, 600.0, 144, 3)
    assert d.rate.shape == (144, 3)
    ahead = np.zeros((144, 3))  # pickups in slots k, k+1, k+2
    ahead[0, 0], ahead[1, 0], ahead[2, 0], ahead[3, 0] = 2 + 1, 1 + 4, 4, 4
    ahead[0, 2] = ahead[1, 2] = ahead[2, 2] = 3
    ahead[141, 1] = ahead[142, 1] = ahead[143, 1] = 5  # nothing after midnight counted
    np.testing.assert_allclose(d.rate, ahead / 1800.0, rtol=1e-12, atol=0)
    assert d.label["model"] is None and "oracle" in d.label["source"]
    np.testing.assert_allclose(d.at(650.0), [5 / 1800.0, 0.0, 3 / 1800.0])


def _card(trained_before: date | None) -> ModelCard:
    return ModelCard("taxinav-road", "4", trained_before, lambda x: np.zeros(len(x)))


def test_check_model_window_refuses_a_model_that_may_have_seen_the_day() -> None:
    check_model_window(_card(date(2008, 5, 18)), DAY)  # trained on data before the day
    check_model_window(_card(date(2008, 5, 1)), DAY)
    with pytest.raises(ValueError, match="2008-05-19"):
        check_model_window(_card(date(2008, 5, 19)), DAY)
    with pytest.raises(ValueError, match="unknown span"):
        check_model_window(_card(None), DAY)


# ---- the closed loop on the hand-built network of tests/roads/small_network.py (7 segments)


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> RoadGraph:
    path = tmp_path_factory.mktemp("osm") / "small.osm"
    return build_graph(read_osm(write_osm(path)), h3_resolution=9)


def _history(n_units: int, first: datetime, days: int, seed: int) -> pa.Table:
    """Counts of ``days`` days from ``first``: (unit_id, slot_start, pickups, vacant)."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list[Any]] = {"unit_id": [], "slot_start": [], "pickups": [], "vacant": []}
    for slot in range(days * 144):
        for u in range(n_units):
            p, v = int(rng.poisson(0.5)), int(rng.poisson(1.0))
            if p or v:
                rows["unit_id"].append(str(u))
                rows["slot_start"].append(first + timedelta(minutes=10 * slot))
                rows["pickups"].append(p)
                rows["vacant"].append(v)
    return pa.table(
        {
            "unit_id": pa.array(rows["unit_id"], pa.string()),
            "slot_start": pa.array(rows["slot_start"], pa.timestamp("us", tz="UTC")),
            "pickups": pa.array(rows["pickups"], pa.int64()),
            "vacant": pa.array(rows["vacant"], pa.int64()),
        }
    )


def test_road_history_reads_stored_road_counts_before_the_day() -> None:
    first = ORIGIN - timedelta(days=1)
    con = _counts_con(
        [
            ("road", "3", _at(-24 * 60 - 10), 1, 1),  # before the first day
            ("road", "3", _at(-24 * 60), 2, 1),
            ("road", "4", _at(-10), 3, 2),
            ("h3", "4", _at(-10), 30, 2),
            ("road", "4", _at(0), 4, 2),  # the day itself
        ]
    )
    t = road_history(con, first, ORIGIN)
    got = sorted(zip(t["unit_id"].to_pylist(), t["pickups"].to_pylist(), strict=True))
    assert got == [("3", 2), ("4", 3)]


def test_closed_loop_scores_the_online_features_of_what_the_stream_received(
    graph: RoadGraph,
) -> None:
    first = ORIGIN - timedelta(days=2)
    history = _history(graph.n_segments, first, 2, seed=5)
    state, first_slot = closed_loop_state(graph, history, first, ORIGIN, Slotting(10, 3), 9, TZ)
    assert first_slot == 288
    assert state.n_slots == 3 * 144
    # A "model" answering r10 − 1: the pickups of the slot before, less one.
    seen: list[pd.DataFrame] = []

    def predict(x: pd.DataFrame) -> np.ndarray:
        seen.append(x)
        return x["r10"].to_numpy() - 1.0

    card = ModelCard("taxinav-road", "7", date(2008, 5, 18), predict)
    stream = FixStream(graph.n_segments, 600.0, 144, 60.0, seed=0)
    horizon_s = 1800.0
    f = ClosedLoopForecast(state, first_slot, card, stream, horizon_s, 600.0)
    assert f.label["model"] == "taxinav-road" and f.label["version"] == "7"
    assert f.label["trained_before"] == "2008-05-18"

    # Slot 0 of the day: r10 is the history's last slot (23:50 the day before).
    last = np.zeros(graph.n_segments)
    ids = history["unit_id"].to_pylist()
    starts = history["slot_start"].to_pylist()
    for u, s, p in zip(ids, starts, history["pickups"].to_pylist(), strict=True):
        if s == ORIGIN - timedelta(minutes=10):
            last[int(u)] += p
    np.testing.assert_array_equal(f.at(10.0), np.clip(last - 1.0, 0.0, None) / horizon_s)
    assert list(seen[-1].columns)[:2] == ["r10", "r30"] and len(seen[-1]) == 7

    # Slot 2: r10 is what the stream holds for the day's slot 1.
    stream.pickups[:, 1] = [0, 1, 2, 3, 4, 0, 5]
    stream.pickups[:, 2] = 9  # the current slot: not yet in r10
    np.testing.assert_array_equal(f.at(1250.0), np.array([0, 0, 1, 2, 3, 0, 4]) / horizon_s)
    calls = len(seen)
    stream.pickups[:, 1] = 100  # within the same slot the forecast is kept
    np.testing.assert_array_equal(f.at(1300.0), np.array([0, 0, 1, 2, 3, 0, 4]) / horizon_s)
    assert len(seen) == calls
    # Slot 3: refreshed from the stream (slot 2 now complete).
    np.testing.assert_array_equal(f.at(1800.0), np.full(7, 8.0) / horizon_s)
    assert seen[-1]["slot_of_day"].iloc[0] == 3.0


def test_closed_loop_state_holds_the_history_and_an_empty_day(graph: RoadGraph) -> None:
    first = datetime(2008, 5, 16, 7, tzinfo=UTC)  # local midnight, 2 days before
    history = _history(graph.n_segments, first, 2, seed=2)
    state, first_slot = closed_loop_state(graph, history, first, ORIGIN, Slotting(10, 3), 9, TZ)
    assert first_slot == 288 and state.n_slots == 432
    assert state.n[:, first_slot:].nnz == 0 and state.sup[:, first_slot:].nnz == 0
    assert state.n.sum() == sum(history["pickups"].to_pylist())
    assert state.sup.sum() == sum(history["vacant"].to_pylist())
    assert state.units == [str(i) for i in range(7)]


def test_closed_loop_at_the_days_last_tick_gives_a_rate(graph: RoadGraph) -> None:
    first = ORIGIN - timedelta(days=2)
    state, first_slot = closed_loop_state(
        graph, _history(graph.n_segments, first, 2, seed=5), first, ORIGIN, Slotting(10, 3), 9, TZ
    )
    card = ModelCard("taxinav-road", "7", date(2008, 5, 18), lambda x: x["r10"].to_numpy())
    stream = FixStream(graph.n_segments, 600.0, 144, 60.0, seed=0)
    stream.pickups[:, 143] = 2.0
    f = ClosedLoopForecast(state, first_slot, card, stream, 1800.0, 600.0)
    np.testing.assert_array_equal(f.at(86_390.0), np.zeros(7))  # slot 143: r10 = slot 142
    rate = f.at(86_400.0)  # the simulation's final tick (engine runs while now < horizon)
    assert rate.shape == (7,) and np.isfinite(rate).all()
