"""The one slotting: slot floors, windows in whole slots and the horizon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from taxinav.features import Slotting
from taxinav.settings import ForecastSettings


def test_the_horizon_is_set_in_minutes_and_converted_to_slots() -> None:
    assert Slotting.of(10, 30) == Slotting(10, 3)
    assert Slotting.of(15, 30) == Slotting(15, 2)
    assert Slotting.of(30, 30) == Slotting(30, 1)
    s = Slotting.of(15, 30)
    assert (s.slot_s, s.horizon_min, s.horizon_s, s.per_day) == (900, 30, 1800.0, 96)


@pytest.mark.parametrize(("slot", "horizon"), [(20, 30), (60, 30), (7, 30)])
def test_a_horizon_that_is_not_whole_slots_is_a_clear_error(slot: int, horizon: int) -> None:
    with pytest.raises(ValueError, match="not a multiple|does not divide"):
        Slotting.of(slot, horizon)


def test_the_settings_refuse_a_horizon_of_part_slots() -> None:
    with pytest.raises(ValueError, match="horizon_min=30 is not a multiple of slot_minutes=20"):
        ForecastSettings(slot_minutes=20, horizon_min=30)
    assert Slotting.of_forecast(ForecastSettings(slot_minutes=15)) == Slotting(15, 2)


def test_windows_in_minutes_are_whole_slots_and_at_least_one() -> None:
    s = Slotting(15, 2)
    assert [s.slots(m) for m in (10, 30, 60, 120)] == [1, 2, 4, 8]
    assert [Slotting(10, 3).slots(m) for m in (10, 30, 60, 120)] == [1, 3, 6, 12]


def test_floor_and_index_count_whole_slots_from_the_origin() -> None:
    s = Slotting(15, 2)
    origin = datetime(2008, 5, 18, 7, 0, tzinfo=UTC)  # local midnight in San Francisco
    t = origin + timedelta(hours=12, minutes=22, seconds=5)
    assert s.index(t, origin) == 12 * 4 + 1
    assert s.floor(t, origin) == origin + timedelta(hours=12, minutes=15)
    assert s.floor(t) == s.floor(t, origin)  # slots are aligned to the epoch as well
    assert s.index(origin - timedelta(seconds=1), origin) == -1
