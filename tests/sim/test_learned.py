"""Drivers' habits learned from matched vacant spells, on a three-segment junction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pytest

from taxinav.sim import Network
from taxinav.sim.learned import learn_historical
from taxinav.warehouse import connect

DAY1 = datetime(2008, 5, 20, tzinfo=UTC)
ZONE = ZoneInfo("UTC")


def _junction() -> Network:
    """0 → {1, 2}; 1 → 0; 2 → 0; 60 s per segment."""
    return Network(
        succ_indptr=np.array([0, 2, 3, 4]), succ_indices=np.array([1, 2, 0, 0]),
        travel_s=np.full(3, 60.0), length_m=np.full(3, 500.0),
        near_indptr=np.arange(4), near_indices=np.arange(3),
    )  # fmt: skip


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = connect(":memory:")
    # Day 1 at 10:00 a driver turns 0 → 1 twice; day 2 another turns 0 → 2 once, waiting
    # 120 s longer on 0 than it takes to drive it.
    h = timedelta(hours=1)
    rows = [
        ("a", 0, 0, DAY1 + 10 * h),
        ("a", 1, 1, DAY1 + 10 * h + timedelta(seconds=60)),
        ("b", 0, 0, DAY1 + 11 * h),
        ("b", 1, 1, DAY1 + 11 * h + timedelta(seconds=60)),
        ("c", 0, 0, DAY1 + 34 * h),
        ("c", 1, 2, DAY1 + 34 * h + timedelta(seconds=180)),
    ]
    for spell, seq, seg, ts in rows:
        con.execute("INSERT INTO spell_paths VALUES (?, 'v', ?, 0, ?, ?, 1)", [spell, seq, seg, ts])
    return con


def test_transitions_count_the_moves_seen_by_block() -> None:
    habits = learn_historical(_warehouse(), _junction(), DAY1 + timedelta(days=2), ZONE)
    nxt, cum = habits.transitions[(2, 0)]  # block 2 = 08–12 h
    assert nxt.tolist() == [1, 2]
    assert cum.tolist() == [2.0, 3.0]


def test_an_excluded_day_leaves_no_trace() -> None:
    day2 = DAY1 + timedelta(days=1)
    habits = learn_historical(_warehouse(), _junction(), DAY1 + timedelta(days=2), ZONE,
                              exclude=(day2, day2 + timedelta(days=1)))  # fmt: skip
    nxt, cum = habits.transitions[(2, 0)]
    assert nxt.tolist() == [1]
    assert cum.tolist() == [2.0]
    # Nor its dwell: with only day 1 (no extra time on 0), nobody waits there.
    assert habits.p_wait[2, 0] == 0.0


def test_days_off_are_learned_apart_and_shrunk_towards_all_days() -> None:
    # Tuesday 2008-05-20: 0 → 1 twice; Saturday 05-24 and Memorial Day 05-26: 0 → 2 once
    # each; all at 10:00 and without standing (drive time = dwell).
    con = connect(":memory:")
    h, m = timedelta(hours=1), timedelta(seconds=60)
    starts = [("a", DAY1, 1), ("b", DAY1 + h, 1), ("c", DAY1 + timedelta(days=4), 2),
              ("d", DAY1 + timedelta(days=6), 2)]  # fmt: skip
    for spell, day, turn in starts:
        for seq, seg, ts in ((0, 0, day + 10 * h), (1, turn, day + 10 * h + m)):
            con.execute("INSERT INTO spell_paths VALUES (?, 'v', ?, 0, ?, ?, 1)",
                        [spell, seq, seg, ts])  # fmt: skip
    habits = learn_historical(con, _junction(), DAY1 + timedelta(days=7), ZONE)
    assert habits.kind_transitions[(1, 2, 0)][0].tolist() == [2]
    assert habits.kind_transitions[(0, 2, 0)][0].tolist() == [1]
    assert habits.transitions[(2, 0)][1].tolist() == [2.0, 2.0 + 2.0]
    # From 0 at 10:00 on a day off: the 2 day-off turns against 5 visits' worth of all days
    # (half to 2): P(→ 2) = 2/7 + 5/7 · 1/2 = 9/14; on a working day 5/7 · 1/2 = 5/14.
    rng = np.random.default_rng(0)
    for day, want in ((datetime(2008, 5, 31, tzinfo=UTC), 9 / 14),
                      (datetime(2008, 5, 29, tzinfo=UTC), 5 / 14)):  # fmt: skip
        on_day = habits.on_day(day, ZONE)
        turns = [on_day.choose(0, 0, 10 * 3600.0, rng) for _ in range(20_000)]
        assert np.mean(np.array(turns) == 2) == pytest.approx(want, abs=0.015)
