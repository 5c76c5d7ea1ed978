"""The feature expression gives the same table on Spark (local[2]) as on DuckDB."""

from __future__ import annotations

import gc
import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import duckdb
import ibis
import numpy as np
import pyarrow as pa
import pytest

from taxinav.features import FEATURES, build_features, h3_inputs
from taxinav.settings import Settings

pytestmark = [
    pytest.mark.spark,
    pytest.mark.data,
    pytest.mark.slow,
    # py4j (Spark's Python-Java bridge) leaves pooled sockets for the garbage collector.
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]
INPUTS = ("units", "slots", "counts", "supply", "neighbors")


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    required = bool(os.environ.get("TAXINAV_REQUIRE_SPARK"))
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        if required:
            pytest.fail("pyspark is required but not installed")
        pytest.skip("pyspark not installed")
    if shutil.which("java") is None:
        if required:
            pytest.fail("Java is required for Spark but not on PATH")
        pytest.skip("no Java on PATH")
    # Same interpreter for workers; loopback only.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    session = (
        SparkSession.builder.master("local[2]")
        .appName("taxinav-parity")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    if gateway is not None:
        gateway.shutdown()
        proc = getattr(gateway, "proc", None)  # the JVM, started with a stdin pipe
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=30)
    SparkContext._gateway = None
    SparkContext._jvm = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
        gc.collect()


@pytest.fixture(scope="module")
def history(small_warehouse: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """H3 inputs of the small real warehouse, every day of it: the last days' features read
    the days before (the day and week lags, the weekday and day-off means)."""
    inputs = h3_inputs(small_warehouse, Settings().tz, resolution=8)
    tables = {n: getattr(inputs, n) for n in INPUTS}
    tables["units"] = tables["units"].select(["unit_id"])
    assert tables["counts"].num_rows > 100
    return tables


def _features(backend: Any, tables: dict[str, pa.Table], lo: int, hi: int) -> pa.Table:
    t = [backend.create_table(f"parity_{n}", tables[n], overwrite=True) for n in INPUTS]
    expr = build_features(*t)
    expr = expr.filter((expr.slot >= lo) & (expr.slot < hi))
    return expr.to_pyarrow().sort_by([("unit_id", "ascending"), ("slot", "ascending")])


# pyspark 4.0 still passes pandas 3's deprecated copy= keyword; not our code.
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
def test_features_are_identical_on_duckdb_and_spark_over_three_days(
    spark: Any, history: dict[str, pa.Table]
) -> None:
    # Three consecutive days with eight days before them: every lag and mean has data.
    per_day = 144
    lo = 8 * per_day
    hi = lo + 3 * per_day
    assert int(np.asarray(history["slots"]["slot"]).max()) >= hi - 1
    on_duckdb = _features(ibis.duckdb.connect(), history, lo, hi)
    on_spark = _features(ibis.pyspark.connect(spark), history, lo, hi)
    assert on_duckdb.num_rows == on_spark.num_rows > 0
    assert sorted(set(on_duckdb["slot"].to_pylist())) == list(range(lo, hi))
    for col in ("unit_id", "slot", "y", "y_complete", *FEATURES):
        a = on_duckdb[col].to_pylist()
        b = on_spark[col].to_pylist()
        if col in ("unit_id", "slot"):
            assert a == b
            continue
        fa = np.array([np.nan if v is None else float(v) for v in a])
        fb = np.array([np.nan if v is None else float(v) for v in b])
        # A column NULL everywhere on both engines would compare equal and prove nothing.
        assert not np.isnan(fa).all(), f"{col} is NULL on every row"
        np.testing.assert_allclose(fa, fb, rtol=1e-12, atol=0, equal_nan=True, err_msg=col)
