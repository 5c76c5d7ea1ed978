"""A Spark session for the batch steps that run on Spark (``TAXINAV_ENGINE=spark``).

pyspark (``requirements-spark.lock``) and Java 17 are needed only here; without them the
session fails with one clear message. Spark listens on loopback only and keeps its scratch
files under the directory it is given.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class SparkUnavailable(RuntimeError):
    """pyspark or Java is missing."""


@contextmanager
def spark_session(
    master: str, shuffle_partitions: int, driver_memory: str, scratch: Path
) -> Iterator[Any]:
    """A Spark session (``pyspark.sql.SparkSession``) for the block; stopped after it, its
    JVM included."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailable(
            "TAXINAV_ENGINE=spark needs pyspark: pip install -r requirements-spark.lock"
        ) from exc
    if shutil.which("java") is None:
        raise SparkUnavailable("TAXINAV_ENGINE=spark needs Java 17 on PATH")
    # Python workers run this interpreter; everything binds to loopback.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    scratch.mkdir(parents=True, exist_ok=True)
    session = (
        SparkSession.builder.master(master)
        .appName("taxinav")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        # Parquet timestamps as UTC microseconds, which DuckDB reads as TIMESTAMPTZ.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.local.dir", str(scratch / "tmp"))
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
        _stop_jvm()


def _stop_jvm() -> None:
    """Shut the JVM down with the session (pyspark leaves it running for the next one)."""
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
    # py4j leaves pooled sockets for the garbage collector.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
