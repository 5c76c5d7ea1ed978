"""The embedded warehouse (DuckDB): the one way to open a store, table contracts, checksums."""

from taxinav.warehouse.connection import (
    connect,
    is_lock_error,
    key_is_unique,
    open_landing,
    open_reader,
    open_warehouse,
    publish_reader,
    reader_path,
    replace_rows,
    retry_on_lock,
    table_checksum,
)
from taxinav.warehouse.schema import KEYS, TABLES

__all__ = [
    "KEYS",
    "TABLES",
    "connect",
    "is_lock_error",
    "key_is_unique",
    "open_landing",
    "open_reader",
    "open_warehouse",
    "publish_reader",
    "reader_path",
    "replace_rows",
    "retry_on_lock",
    "table_checksum",
]
