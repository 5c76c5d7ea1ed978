"""Opening the embedded DuckDB warehouse and proving what is in it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from taxinav.warehouse.schema import KEYS, MACROS, MIGRATIONS, TABLES

if TYPE_CHECKING:
    from taxinav.settings import Settings


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
    con.execute(MACROS)
    if not read_only:
        for ddl in (*TABLES.values(), *MIGRATIONS):
            con.execute(ddl)
    return con


def open_warehouse(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """The warehouse of these settings (the one way every command and asset opens it)."""
    return connect(
        settings.warehouse_path,
        memory_limit=settings.duckdb_memory_limit,
        threads=settings.duckdb_threads,
        read_only=read_only,
    )


def open_landing(settings: Settings) -> duckdb.DuckDBPyConnection:
    """The landing store, where validated telemetry arrives (files and the API)."""
    return connect(
        settings.landing_path,
        memory_limit=settings.duckdb_memory_limit,
        threads=settings.duckdb_threads,
    )


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
