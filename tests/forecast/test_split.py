"""Train/validation/test splits by hand, with and without a rolling training window."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from taxinav.calendar import local_midnight, slot_table
from taxinav.features import DemandInputs, Slotting
from taxinav.forecast.backtest import make_split
from taxinav.settings import Settings

TZ = Settings().tz


def _inputs(days: int) -> DemandInputs:
    origin = local_midnight(date(2008, 5, 17), TZ)
    empty = pa.table({"unit_id": pa.array([], pa.string())})
    return DemandInputs("h3", empty, slot_table(origin, days * 144, 10, TZ), empty, empty, empty,
                        origin, Slotting(10, 3), TZ)  # fmt: skip


def test_split_by_hand() -> None:
    # 10 days of 144 slots; test from day 8 (slot 1152) for 2 days, 2 validation days from
    # slot 864; a target spans 3 slots, so each earlier part ends 2 slots early.
    split = make_split(_inputs(10), date(2008, 5, 25), 2, valid_days=2)
    assert split.train == (144, 862) and split.valid == (864, 1150)
    assert split.test == (1152, 1440)


def test_rolling_window_keeps_only_the_last_days_before_validation() -> None:
    split = make_split(_inputs(10), date(2008, 5, 25), 2, valid_days=2, train_days=3)
    assert split.train == (864 - 3 * 144, 862)
    # A window longer than the history changes nothing.
    assert make_split(_inputs(10), date(2008, 5, 25), 2, train_days=30).train == (144, 862)


def test_no_room_for_training_is_an_error() -> None:
    with pytest.raises(ValueError, match="not enough history"):
        make_split(_inputs(4), date(2008, 5, 19), 1, valid_days=2)


def test_gate_days_sit_between_validation_and_test_and_nothing_learned_reaches_them() -> None:
    # Test from day 8 (slot 1152); 2 gate days from slot 864, 2 validation days from 576.
    split = make_split(_inputs(10), date(2008, 5, 25), 2, valid_days=2, gate_days=2)
    assert split.gate == (864, 1152) and split.test == (1152, 1440)
    # Training and validation targets (3 slots) end before the gate's first slot.
    assert split.valid == (576, 862) and split.train == (144, 574)
    # Without gate days the gate is empty and the rest is as before.
    plain = make_split(_inputs(10), date(2008, 5, 25), 2, valid_days=2)
    assert plain.gate == (1152, 1152) and plain.valid == (864, 1150)


def test_gate_days_need_their_own_room_before_the_test() -> None:
    make_split(_inputs(6), date(2008, 5, 22), 1, valid_days=2)  # fits without a gate
    with pytest.raises(ValueError, match="not enough history"):
        make_split(_inputs(6), date(2008, 5, 22), 1, valid_days=2, gate_days=2)
