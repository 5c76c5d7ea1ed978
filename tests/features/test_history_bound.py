"""No feature looks back more than ``HISTORY_DAYS`` (28) days: hand-computed values on one
unit over 35 days, from the batch expression and from the online state, and the history a
day's inputs are read from."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import ibis
import numpy as np
import pyarrow as pa
import pytest

from taxinav.calendar import local_midnight, slot_table
from taxinav.features import FEATURES, build_features
from taxinav.features.counts import CountSpec
from taxinav.features.online import SlotFeatures
from taxinav.features.slots import HISTORY_DAYS, Slotting
from taxinav.features.sources import COUNT_SCHEMA, SUPPLY_SCHEMA, DemandInputs

TZ = ZoneInfo("America/Los_Angeles")
DAY = 144
DAYS = 35
ORIGIN = datetime(2008, 5, 19, 7, 0, tzinfo=UTC)  # local midnight, a Monday


def _inputs() -> DemandInputs:
    """Pickups only at each day's first slot: 5 on days 0–4, then 1 a day."""
    slots = [d * DAY for d in range(DAYS)]
    counts = pa.table({"unit_id": ["a"] * DAYS, "slot": slots,
                       "n": [5 if d < 5 else 1 for d in range(DAYS)]})  # fmt: skip
    return DemandInputs(
        "road", pa.table({"unit_id": ["a"]}), slot_table(ORIGIN, DAYS * DAY, 10, TZ),
        counts.cast(COUNT_SCHEMA),
        pa.table({"unit_id": pa.array([], pa.string()), "slot": pa.array([], pa.int64()),
                  "vehicles": pa.array([], pa.int64())}).cast(SUPPLY_SCHEMA),
        pa.table({"unit_id": pa.array([], pa.string()), "nbr_id": pa.array([], pa.string()),
                  "ring": pa.array([], pa.int64())}),
        ORIGIN, Slotting(10, 3), TZ,
    )  # fmt: skip


@pytest.fixture(scope="module")
def batch() -> dict[int, dict[str, object]]:
    inputs = _inputs()
    con = ibis.duckdb.connect()
    tables = [con.create_table(n, getattr(inputs, n))
              for n in ("units", "slots", "counts", "supply", "neighbors")]  # fmt: skip
    out = build_features(*tables, inputs.slotting).to_pyarrow().to_pylist()
    return {int(r["slot"]): r for r in out}


@pytest.fixture(scope="module")
def online() -> SlotFeatures:
    return SlotFeatures(_inputs())


# (day, feature, value): days 4..31 are the 28 days before day 32, of which only day 4 had 5;
# the same weekday as day 32 within them: days 4, 11, 18, 25.
EXPECTED = [
    (34, "ha_all", 1.0),  # days 6..33
    (32, "ha_all", (5 + 27) / 28),
    (32, "ha_weekday", (5 + 1 + 1 + 1) / 4),
    (32, "unit_rate", (5 + 27) / (28 * DAY) * 3),
    (3, "ha_all", 5.0),  # fewer than 28 earlier days: all of them
    (3, "unit_rate", 15 / (3 * DAY) * 3),
]


@pytest.mark.parametrize(("day", "feature", "value"), EXPECTED)
def test_statistics_of_earlier_days_span_the_last_28_days_in_the_batch(
    batch: dict[int, dict[str, object]], day: int, feature: str, value: float
) -> None:
    assert HISTORY_DAYS == 28
    assert batch[day * DAY][feature] == pytest.approx(value)


@pytest.mark.parametrize(("day", "feature", "value"), EXPECTED)
def test_statistics_of_earlier_days_span_the_last_28_days_online(
    online: SlotFeatures, day: int, feature: str, value: float
) -> None:
    row = online.row(day * DAY)
    assert row[0, FEATURES.index(feature)] == pytest.approx(value)


def test_a_day_reads_its_history_from_29_local_midnights_before() -> None:
    spec = CountSpec(ORIGIN, Slotting(10, 3), 8, TZ)
    end = local_midnight(date(2008, 7, 1), TZ)  # the day 2008-06-30 ends
    assert spec.history_start(end) == local_midnight(date(2008, 6, 1), TZ)
    assert spec.history_start(local_midnight(date(2008, 6, 1), TZ)) == ORIGIN  # not before it


def test_a_grid_cut_at_the_history_start_gives_the_same_day(
    batch: dict[int, dict[str, object]],
) -> None:
    """Day 34 from counts of days 5..34 only (29 days before it) equals the full grid's."""
    first = 5 * DAY
    inputs = _inputs()
    counts = inputs.counts.filter(pa.compute.greater_equal(inputs.counts["slot"], first))
    shifted = counts.set_column(1, "slot", pa.compute.subtract(counts["slot"], first))
    start = slot_table(ORIGIN, DAYS * DAY, 10, TZ)["slot_start"][first].as_py()
    cut = DemandInputs("road", inputs.units, slot_table(start, (DAYS - 5) * DAY, 10, TZ),
                       shifted.cast(COUNT_SCHEMA), inputs.supply, inputs.neighbors, start,
                       inputs.slotting, TZ)  # fmt: skip
    state = SlotFeatures(cut)
    for s in range(34 * DAY, 35 * DAY - 3, 7):
        got = state.row(s - first)[0]
        want = np.array([np.nan if batch[s][f] is None else batch[s][f] for f in FEATURES],
                        dtype=np.float64)  # fmt: skip
        np.testing.assert_allclose(got, want, equal_nan=True, err_msg=f"slot {s}")
