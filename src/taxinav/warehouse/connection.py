"""Opening the embedded DuckDB warehouse and proving what is in it."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from taxinav.warehouse.schema import KEYS, MACROS, MIGRATIONS, TABLES

if TYPE_CHECKING:
    from taxinav.settings import Settings

log = logging.getLogger(__name__)


def connect(
    path: Path | str, *, memory_limit: str = "4GB", threads: int = 2, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse with every table and macro defined."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET threads = {int(threads)}")
    # Insertion order only matters where we sort explicitly; dropping it saves memory.
    con.execute("SET preserve_insertion_order = false")
    # DuckDB's allocator keeps freed pages until a thread of its own gives them back: without
    # it, a query's result (millions of rows to Arrow) stayed resident as ~1 GiB more.
    con.execute("SET allocator_background_threads = true")
    con.execute(MACROS)
    if not read_only:
        for ddl in (*TABLES.values(), *MIGRATIONS):
            con.execute(ddl)
    return con


def open_warehouse(
    settings: Settings, *, read_only: bool = False, wait_s: float = 120.0
) -> duckdb.DuckDBPyConnection:
    """The warehouse of these settings (the one way every command and asset opens it),
    waiting with backoff up to ``wait_s`` seconds while another process holds it."""
    return retry_on_lock(
        lambda: connect(settings.warehouse_path, memory_limit=settings.duckdb_memory_limit,
                        threads=settings.duckdb_threads, read_only=read_only),
        wait_s,
    )  # fmt: skip


def is_lock_error(exc: BaseException) -> bool:
    """Another process holds the file (DuckDB allows one writer or many readers)."""
    text = str(exc)
    return isinstance(exc, duckdb.IOException) and ("lock" in text or "Conflicting" in text)


def reader_path(settings: Settings) -> Path:
    """The read replica: a published copy of the warehouse that readers open."""
    return settings.home / "warehouse.read.duckdb"


def publish_reader(settings: Settings, *, wait_s: float = 600.0) -> Path:
    """Copy the warehouse into the read replica, replaced atomically.

    Readers (the service, simulations, evaluations) open the replica, never the warehouse,
    so a long reader does not stop the pipeline from writing and a writer never blocks a
    read; a reader that has the old replica open keeps reading it until it closes it."""
    target = reader_path(settings)
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        src = settings.warehouse_path
        retry_on_lock(lambda: con.execute(f"ATTACH '{src}' AS src (READ_ONLY)"), wait_s)
        con.execute(f"ATTACH '{tmp}' AS dst")
        con.execute("COPY FROM DATABASE src TO dst")
        con.execute("DETACH dst")
        con.execute("DETACH src")
    finally:
        con.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return target


def open_reader(
    settings: Settings, *, wait_s: float = 600.0, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """The warehouse for reading: the read replica when one is published, else the
    warehouse itself read-only, waiting (with backoff) while a writer holds it."""
    path = reader_path(settings)
    if not path.exists():
        path = settings.warehouse_path
    if not path.exists():
        raise FileNotFoundError(f"no warehouse at {settings.warehouse_path}; run `taxinav demo`")
    return retry_on_lock(
        lambda: connect(path, memory_limit=settings.duckdb_memory_limit,
                        threads=threads or settings.duckdb_threads, read_only=True),
        wait_s,
    )  # fmt: skip


def retry_on_lock[T](call: Callable[[], T], wait_s: float) -> T:
    """``call`` until it stops failing on a file lock, backing off up to ``wait_s`` seconds."""
    deadline, delay = time.monotonic() + wait_s, 0.2
    while True:
        try:
            return call()
        except duckdb.IOException as exc:
            if not is_lock_error(exc) or time.monotonic() + delay > deadline:
                raise
            log.info("store busy (%s); retrying in %.1f s", str(exc).splitlines()[0], delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def open_landing(settings: Settings, *, wait_s: float = 120.0) -> duckdb.DuckDBPyConnection:
    """The landing store, where validated telemetry files arrive (waiting like
    :func:`open_warehouse`)."""
    return retry_on_lock(
        lambda: connect(settings.landing_path, memory_limit=settings.duckdb_memory_limit,
                        threads=settings.duckdb_threads),
        wait_s,
    )  # fmt: skip


def table_checksum(con: duckdb.DuckDBPyConnection, table: str) -> tuple[int, str]:
    """Row count and an order-independent content hash of ``table``."""
    if table not in TABLES:
        raise KeyError(f"unknown table {table!r}")
    row = con.execute(
        f"SELECT count(*), coalesce(sum(hash(t::VARCHAR))::VARCHAR, '0') FROM {table} t"
    ).fetchall()[0]
    assert row is not None
    return int(row[0]), str(row[1])


def key_is_unique(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """True when no two rows of ``table`` share its documented key."""
    cols = ", ".join(KEYS[table])
    row = con.execute(
        f"SELECT count(*) FROM (SELECT {cols} FROM {table} GROUP BY ALL HAVING count(*) > 1)"
    ).fetchall()[0]
    assert row is not None
    return int(row[0]) == 0


def replace_rows(
    con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table], where: str | None = None,
    params: list[object] | None = None,
) -> None:  # fmt: skip
    """Replace the full contents of each named table — or only its rows matching ``where``
    (a SQL condition with ``params``) — all in one transaction."""
    con.begin()
    try:
        for name, table in tables.items():
            if name not in TABLES:
                raise KeyError(f"unknown table {name!r}")
            con.execute(f"DELETE FROM {name}" + (f" WHERE {where}" if where else ""), params)
            con.register("incoming_rows", table)
            con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming_rows")
            con.unregister("incoming_rows")
        con.commit()
    except Exception:
        con.rollback()
        raise
