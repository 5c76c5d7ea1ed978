"""Simulated hours come from the origin instant and the time zone, not from an hour passed
along: on 2018-11-04 São Paulo's clocks jumped from 00:00 to 01:00, so that local day starts
at 01:00 (03:00 UTC) and its simulated hour k is local hour 1 + k."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from taxinav.calendar import local_midnight
from taxinav.roads import build_graph, read_osm
from taxinav.sim import SimConfig
from taxinav.sim.booking import MIN_PRESSURE, demand_pressure
from taxinav.sim.engine import booking_share
from taxinav.sim.learned import HistoricalBehaviour, _transitions
from taxinav.sim.replay import load_world
from taxinav.warehouse import connect
from tests.roads.small_network import write_osm
from tests.sim.tiny import one_taxi, requests, ring, world

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
SKIPPED_MIDNIGHT = date(2018, 11, 4)
H = 3600.0


def test_the_day_starts_at_one_when_local_midnight_does_not_exist() -> None:
    origin = local_midnight(SKIPPED_MIDNIGHT, SAO_PAULO)
    assert origin == datetime(2018, 11, 4, 3, tzinfo=UTC)  # 00:00 at −03:00 → 01:00 at −02:00
    assert world(ring(), requests([]), one_taxi(), origin=origin, tz=SAO_PAULO).origin_hour == 1
    la = ZoneInfo("America/Los_Angeles")  # its clocks change at 02:00: midnight always exists
    assert world(ring(), requests([]), one_taxi(), origin=local_midnight(date(2008, 3, 9), la),
                 tz=la).origin_hour == 0  # fmt: skip


def test_a_loaded_world_runs_each_hour_at_its_local_hours_speed(tmp_path: Path) -> None:
    graph = build_graph(read_osm(write_osm(tmp_path / "small.osm")), h3_resolution=9)
    origin = local_midnight(SKIPPED_MIDNIGHT, SAO_PAULO)
    by_local_hour = 0.5 + np.arange(24) / 100  # local hour h runs at 0.5 + h / 100
    con = connect(":memory:")  # one vacant cab on A St, ten minutes into the day
    con.execute("INSERT INTO telemetry VALUES ('cab', ?, 37.0, -121.9995, false)",
                [origin + timedelta(minutes=10)])  # fmt: skip
    w = load_world(con, graph, origin, 1, SAO_PAULO, speed_by_local_hour=by_local_hour)
    assert (w.origin, w.tz, w.origin_hour) == (origin, SAO_PAULO, 1)
    assert w.presence.enter_t.tolist() == [600.0]
    # Simulated hour 0 is 01:00 local, 22 is 23:00; 23 (24 h after 03:00 UTC) is 00:00 on
    # the 5th, whose midnight exists (the local day was 23 hours long).
    assert w.speed_factor is not None
    assert w.speed_factor[[0, 22, 23]] == pytest.approx([0.51, 0.73, 0.50])


def test_blocks_of_the_local_day_follow_the_origins_local_hour() -> None:
    origin = local_midnight(SKIPPED_MIDNIGHT, SAO_PAULO)
    # Hails 2.5 h and 3.5 h after the origin: 03:30 (block 0, 00–04 h) and 04:30 (block 1).
    req = requests([(2.5 * H, 0, 1, 60.0, 5.0), (3.5 * H, 0, 1, 60.0, 5.0)])
    # One taxi present all through the 23-hour local day.
    w = world(ring(), req, one_taxi(leave_t=23 * H), horizon_s=23 * H, origin=origin,
              tz=SAO_PAULO)  # fmt: skip
    shares = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    assert booking_share(w, SimConfig(dispatch_share=shares)).tolist() == [0.1, 0.2]
    # Block 0 is the first 3 simulated hours (01–04 h local): 1 request / 3 taxi-hours;
    # block 1 (04–08 h) 1 / 4; block 5 (20–24 h): the last 4 hours, no request.
    got = demand_pressure(w)
    assert got[[0, 1]] == pytest.approx([1 / 3, 1 / 4])
    assert got[5] == pytest.approx(MIN_PRESSURE)


def test_drivers_habits_on_the_day_turn_by_the_local_block() -> None:
    # On a ring segment 0 leads only to 1; drivers stand on 0 in block 1 (04–08 h) only.
    p_wait = np.zeros((6, 3))
    p_wait[1, 0] = 1.0
    moves = _transitions(np.array([0]), np.array([0]), np.array([1]))  # 0 → 1 in block 0
    habits = HistoricalBehaviour(ring(3), moves, p_wait)
    day = habits.on_day(local_midnight(SKIPPED_MIDNIGHT, SAO_PAULO), SAO_PAULO)
    assert day.origin_hour == 1
    rng = np.random.default_rng(0)
    # 2.5 h after the origin is 03:30 (block 0: drive on); 3.5 h is 04:30 (block 1: wait).
    assert day.choose(0, 0, 2.5 * H, rng) == 1
    assert day.choose(0, 0, 3.5 * H, rng) == 0
