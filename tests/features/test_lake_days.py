"""A day's counts and features through the lake, on DuckDB and on Spark (local[2]), equal the
embedded path's rows (``demand_day``, ``features_day``) on real days."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
import numpy as np
import pyarrow as pa
import pytest

from taxinav.calendar import Day
from taxinav.features import FEATURES
from taxinav.features.counts import CountSpec, demand_day
from taxinav.features.lake_days import (
    count_day,
    ensure_counts,
    export_events,
    feature_day,
    history_days,
    load_counts,
    load_features,
)
from taxinav.features.slots import Slotting
from taxinav.forecast.daily import features_day
from taxinav.roads import RoadGraph, read_graph, snap_trip_ends
from taxinav.settings import Settings
from taxinav.warehouse import connect
from taxinav.warehouse.lake import partition_dir

pytestmark = [pytest.mark.data, pytest.mark.slow]
N_DAYS = 11  # the first eight days are the history of the three compared ones


@pytest.fixture(scope="module")
def store(
    small_warehouse: duckdb.DuckDBPyConnection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[duckdb.DuckDBPyConnection, RoadGraph, CountSpec, list[Day]]]:
    """A writable copy of the small warehouse with the first days' pickups map-matched and
    counted, and the embedded path's features of the last three."""
    path = tmp_path_factory.mktemp("lake-days") / "w.duckdb"
    src = small_warehouse.execute("SELECT current_database()").fetchall()[0][0]
    small_warehouse.execute(f"ATTACH '{path}' AS lake_copy")
    small_warehouse.execute(f"COPY FROM DATABASE {src} TO lake_copy")
    small_warehouse.execute("DETACH lake_copy")
    con = connect(path, memory_limit="2GB")
    s = Settings()
    first = con.execute("SELECT min(ts) FROM telemetry").fetchall()[0][0]
    spec = CountSpec(Day.of(first.astimezone(s.tz).date(), s.tz).start,
                     Slotting.of_forecast(s.forecast), 8, s.tz)  # fmt: skip
    days = [Day.of(spec.origin.date() + timedelta(days=k), s.tz) for k in range(N_DAYS)]
    graph = read_graph(con)
    snap_trip_ends(con, graph, radius_m=s.roads.match_radius_m,
                   heading_weight_m=s.roads.heading_weight_m,
                   between=(days[0].start, days[-1].end))  # fmt: skip
    for d in days:
        demand_day(con, spec, graph, d)
    for d in days[-3:]:
        features_day(con, spec, graph, "h3", d)
    features_day(con, spec, graph, "road", days[-1])  # 5,932 segments: one day is enough
    yield con, graph, spec, days
    con.close()


def _rows(con: duckdb.DuckDBPyConnection, table: str, d: Day, unit: str) -> pa.Table:
    order = "slot_start, unit_id" if table == "unit_features" else "unit_id, slot_start"
    return con.sql(
        f"""SELECT * FROM {table} WHERE unit_type = ? AND slot_start >= ? AND slot_start < ?
            ORDER BY {order}""",
        params=[unit, d.start, d.end],
    ).to_arrow_table()


def _assert_features_equal(a: pa.Table, b: pa.Table) -> None:
    assert a.num_rows == b.num_rows > 0
    for col in ("unit_id", "slot_start", "y_complete"):
        assert a[col].to_pylist() == b[col].to_pylist(), col
    np.testing.assert_array_equal(a["y"].to_numpy(), b["y"].to_numpy())
    xa = np.array(a["x"].to_pylist(), dtype=np.float64)
    xb = np.array(b["x"].to_pylist(), dtype=np.float64)
    for i, name in enumerate(FEATURES):
        # A feature NULL everywhere on both engines would compare equal and prove nothing.
        assert not np.isnan(xa[:, i]).all(), f"{name} is NULL on every row"
        np.testing.assert_allclose(xa[:, i], xb[:, i], rtol=1e-12, equal_nan=True, err_msg=name)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from taxinav.warehouse.spark import SparkUnavailable, spark_session

    try:
        with spark_session("local[2]", 4, "2g", tmp_path_factory.mktemp("spark")) as session:
            yield session
    except SparkUnavailable as exc:
        if os.environ.get("TAXINAV_REQUIRE_SPARK"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def _check_engine(
    backend: Any,
    store: tuple[duckdb.DuckDBPyConnection, RoadGraph, CountSpec, list[Day]],
    lake: Path,
    feature_units: tuple[str, ...],
) -> None:
    con, graph, spec, days = store
    embedded = {
        (u, d.day): (_rows(con, "demand_counts", d, u), _rows(con, "unit_features", d, u))
        for d in days for u in ("h3", "road")
    }  # fmt: skip
    try:
        for d in days:
            assert export_events(con, graph, spec, d, lake) > 0
            count_day(backend, lake, spec, d)
            load_counts(con, lake, d)
            for u in ("h3", "road"):
                assert _rows(con, "demand_counts", d, u) == embedded[(u, d.day)][0], (u, d.day)
        last = days[-1]
        assert ensure_counts(con, lake, spec, last) == []  # every day counted through the lake
        assert history_days(spec, last)[-1] == last.day
        for d in days[-3:]:
            for u in feature_units if d == last else ("h3",):
                feature_day(backend, lake, spec, graph, u, d)
                n = load_features(con, lake, u, d)["rows"]
                assert n == embedded[(u, d.day)][1].num_rows
                _assert_features_equal(_rows(con, "unit_features", d, u), embedded[(u, d.day)][1])
    finally:  # leave the embedded rows for the next engine
        for (u, day), (counts, feats) in embedded.items():
            d = Day.of(day, spec.tz)
            where = "unit_type = ? AND slot_start >= ? AND slot_start < ?"
            for table, rows in (("demand_counts", counts), ("unit_features", feats)):
                con.execute(f"DELETE FROM {table} WHERE {where}", [u, d.start, d.end])
                con.register("back", rows)
                con.execute(f"INSERT INTO {table} SELECT * FROM back")
                con.unregister("back")


def test_the_lake_path_on_duckdb_gives_the_embedded_rows(store: Any, tmp_path: Path) -> None:
    _check_engine(ibis.duckdb.connect(), store, tmp_path / "lake", ("h3", "road"))


@pytest.mark.spark
# pyspark 4.0 still passes pandas 3's deprecated copy= keyword; not our code.
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_lake_path_on_spark_gives_the_embedded_rows(
    store: Any, spark: Any, tmp_path: Path
) -> None:
    # Road features run the same expression over 5,932 segments: the DuckDB lake test checks
    # them; on two cores Spark would add minutes to the suite for no other code.
    _check_engine(ibis.pyspark.connect(spark), store, tmp_path / "lake", ("h3",))


def test_a_rerun_day_replaces_its_partition(store: Any, tmp_path: Path) -> None:
    con, graph, spec, days = store
    lake = tmp_path / "lake"
    export_events(con, graph, spec, days[0], lake)
    export_events(con, graph, spec, days[0], lake)
    files = list(partition_dir(lake, "events", days[0].day).iterdir())
    assert [f.name for f in files] == ["part-0.parquet"]
    assert not [p for p in (lake / "events").iterdir() if p.name.startswith(".")]
    shutil.rmtree(lake)
