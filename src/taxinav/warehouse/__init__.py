"""The embedded warehouse (DuckDB): the one way to open a store, table contracts, checksums."""

from taxinav.warehouse.connection import (
    connect,
    key_is_unique,
    open_landing,
    open_warehouse,
    replace_rows,
    table_checksum,
)
from taxinav.warehouse.schema import KEYS, TABLES

__all__ = [
    "KEYS",
    "TABLES",
    "connect",
    "key_is_unique",
    "open_landing",
    "open_warehouse",
    "replace_rows",
    "table_checksum",
]
