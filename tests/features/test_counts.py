"""Feature inputs of a counts file keep the horizon in minutes, whatever the file's slots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from taxinav.features.counts import CountSpec, demand_inputs
from taxinav.features.materialize import materialize
from taxinav.features.slots import Slotting

TZ = ZoneInfo("America/Los_Angeles")
START = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)  # local midnight (PST)


def _file(path: Path, slot_min: int, slots: int) -> Path:
    """Two cells; cell a has k pickups in its k-th slot (mod 5), cell b one in every slot."""
    rows: dict[str, list[object]] = {"unit_id": [], "slot_start": [], "count": []}
    for k in range(slots):
        for unit, n in (("a", k % 5), ("b", 1)):
            if n:
                rows["unit_id"].append(unit)
                rows["slot_start"].append(START + timedelta(minutes=slot_min * k))
                rows["count"].append(n)
    pacsv.write_csv(pa.table(rows), path)
    return path


def _spec() -> CountSpec:
    return CountSpec(START, Slotting(10, 3), 8, TZ)


def test_a_counts_file_of_30_minute_slots_predicts_one_slot(tmp_path: Path) -> None:
    inputs = demand_inputs(duckdb.connect(), _spec(), "counts", _file(tmp_path / "c.csv", 30, 48))
    assert inputs.slotting == Slotting(30, 1)
    con = duckdb.connect()
    table = materialize(con, inputs)
    got = dict(con.execute(f"SELECT slot, y FROM {table} WHERE unit_id = 'a'").fetchall())
    # The target of slot k is the next 30 minutes: slot k alone, k mod 5 pickups.
    assert [got[k] for k in range(10)] == [k % 5 for k in range(10)]
    r30 = dict(con.execute(f"SELECT slot, r30 FROM {table} WHERE unit_id = 'b'").fetchall())
    assert r30[5] == 1  # the last 30 minutes: one slot


def test_the_feature_table_holds_sums_as_64_bit_integers(tmp_path: Path) -> None:
    inputs = demand_inputs(duckdb.connect(), _spec(), "counts", _file(tmp_path / "c.csv", 10, 60))
    con = duckdb.connect()
    table = materialize(con, inputs)
    types = dict(con.execute(f"SELECT column_name, data_type FROM information_schema.columns "
                             f"WHERE table_name = '{table}'").fetchall())  # fmt: skip
    assert "HUGEINT" not in types.values()
    assert types["y"] == "BIGINT" and types["r30"] == "BIGINT"
    # Cell b has one pickup in every 10-minute slot: 3 in a 30-minute window, 12 in 120.
    assert con.execute(f"SELECT r30, r120 FROM {table} WHERE unit_id = 'b' AND slot = 20"
                       ).fetchone() == (3, 12)  # fmt: skip


def test_ten_minute_counts_keep_a_target_of_three_slots(tmp_path: Path) -> None:
    inputs = demand_inputs(duckdb.connect(), _spec(), "counts", _file(tmp_path / "c.csv", 10, 60))
    assert inputs.slotting == Slotting(10, 3)
    con = duckdb.connect()
    table = materialize(con, inputs)
    got = dict(con.execute(f"SELECT slot, y FROM {table} WHERE unit_id = 'a'").fetchall())
    assert got[2] == 2 + 3 + 4 and got[4] == 4 + 0 + 1


def test_slots_that_do_not_divide_the_horizon_are_refused(tmp_path: Path) -> None:
    path = _file(tmp_path / "c.csv", 20, 30)
    with pytest.raises(ValueError, match=r"c\.csv: 20-minute slots: .*30 min is not a multiple"):
        demand_inputs(duckdb.connect(), _spec(), "counts", path)
