"""The embedded warehouse (DuckDB): connection, table contracts, checksums."""

from taxinav.warehouse.connection import connect, key_is_unique, replace_rows, table_checksum
from taxinav.warehouse.schema import KEYS, TABLES

__all__ = ["KEYS", "TABLES", "connect", "key_is_unique", "replace_rows", "table_checksum"]
