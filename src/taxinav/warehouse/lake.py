"""The lake: tables as Parquet partitioned by local day under ``<home>/lake``, written and read
by DuckDB and by distributed engines (Spark) alike.

Layout: ``<root>/<table>/day=YYYY-MM-DD/*.parquet``; the feature rows are split by unit type
too: ``<root>/unit_features/unit_type=<u>/day=YYYY-MM-DD/*.parquet``. A partition is one
directory that a writer replaces whole (Spark's ``mode=overwrite``, or
:func:`write_partition`), so rerunning a day leaves no stale file behind.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

LAKE_TABLES = ("events", "demand_counts", "unit_features")


def partition_dir(root: Path, table: str, day: date, unit_type: str | None = None) -> Path:
    """The directory holding ``table``'s rows of ``day`` (and ``unit_type``, for features)."""
    if table not in LAKE_TABLES:
        raise KeyError(f"unknown lake table {table!r}; one of {', '.join(LAKE_TABLES)}")
    base = root / table
    if unit_type is not None:
        base = base / f"unit_type={unit_type}"
    return base / f"day={day.isoformat()}"


def has_partition(path: Path) -> bool:
    """Whether a writer finished ``path``: it holds Parquet files and no unfinished ones."""
    return path.is_dir() and any(path.glob("*.parquet")) and not (path / "_temporary").exists()


def write_partition(path: Path, rows: pa.Table) -> Path:
    """Replace the partition at ``path`` with ``rows`` (one file), atomically: written beside
    it, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.writing-{os.getpid()}")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir()
    pq.write_table(rows, fresh / "part-0.parquet")
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    if path.exists():
        path.rename(old)
    fresh.rename(path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def read_partition(con: duckdb.DuckDBPyConnection, path: Path) -> pa.Table:
    """Every row of a finished partition, as written (no partition columns added)."""
    if not has_partition(path):
        raise FileNotFoundError(f"no finished lake partition at {path}")
    glob = str(path / "*.parquet").replace("'", "''")
    sql = f"SELECT * FROM read_parquet('{glob}', hive_partitioning = false)"
    return con.sql(sql).to_arrow_table()
