"""The API's landing segments: each closed append-log segment becomes Parquet files —
``fixes-<seq>.parquet`` and ``rides-<seq>.parquet`` — written to a temporary name, fsynced
and renamed, so a reader (the daily pipeline) sees whole files or none, and no process ever
waits for a lock. Writing a segment again (a crash before its log file was deleted) replaces
the same files: nothing is landed twice."""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

SOURCE = "api"
LINES_PER_SEGMENT = 10_000_000  # line = seq · this + index: unique and ordered across segments

FIX_SCHEMA = pa.schema([
    ("source", pa.string()), ("line", pa.int64()), ("vehicle_id", pa.string()),
    ("ts", pa.timestamp("us", tz="UTC")), ("lat", pa.float64()), ("lon", pa.float64()),
    ("occupied", pa.bool_()),
])  # fmt: skip
RIDE_SCHEMA = pa.schema([
    ("event_key", pa.string()), ("vehicle_id", pa.string()), ("kind", pa.string()),
    ("ts", pa.timestamp("us", tz="UTC")), ("lat", pa.float64()), ("lon", pa.float64()),
    ("received_at", pa.timestamp("us", tz="UTC")),
])  # fmt: skip


def _name(source: str, seq: int) -> str:
    return f"{seq:09d}" if source == SOURCE else f"{source}-{seq:012d}"


def _write(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself survives a crash
    finally:
        os.close(fd)


# Every field of either kind's items: a record's items are read as this struct (a field the
# kind lacks is null), so one parse reads a segment of both kinds.
_ITEM = pa.struct([
    ("vehicle_id", pa.string()), ("ts", pa.string()), ("lat", pa.float64()),
    ("lon", pa.float64()), ("occupied", pa.bool_()), ("event_key", pa.string()),
    ("kind", pa.string()),
])  # fmt: skip
_LINE = pa.schema([("kind", pa.string()), ("items", pa.list_(_ITEM))])
_MIN_BLOCK = 1 << 20  # bytes parsed per block (one line must fit in one)


def write_segment(
    directory: Path, seq: int, records: list[tuple[str, list[dict[str, Any]]]],
    received_at: datetime, source: str = SOURCE,
) -> Counter[str]:  # fmt: skip
    """Land records given as Python objects (a JetStream message's, or a test's): as
    `write_lines` of their JSON lines."""
    lines = [json.dumps({"kind": kind, "items": items}, default=str).encode() + b"\n"
             for kind, items in records]  # fmt: skip
    return write_lines(directory, seq, lines, received_at, source)


def write_lines(
    directory: Path, seq: int, lines: list[bytes], received_at: datetime, source: str = SOURCE
) -> Counter[str]:
    """Land one log segment's good lines (``{"kind": "fixes"|"rides", "items": [...]}``, as
    the append log holds them and already validated; ``source``: ``api`` for the append log's
    segments, ``api-w<k>`` for an ingest worker's, ``stream`` for JetStream messages, numbered
    by their stream sequence); returns what was written.

    Arrow parses the lines and converts the times with the interpreter released: the ingest
    process lands its log beside the acknowledgements, and building the rows as Python
    objects held the interpreter for tens of ms at a time (docs/decisions.md)."""
    directory.mkdir(parents=True, exist_ok=True)
    out: Counter[str] = Counter()
    if not lines:
        return out
    block = max(_MIN_BLOCK, max(len(line) for line in lines) + 1)
    table = pj.read_json(
        io.BytesIO(b"".join(lines)),
        read_options=pj.ReadOptions(block_size=block),
        parse_options=pj.ParseOptions(explicit_schema=_LINE, unexpected_field_behavior="ignore"),
    )
    fixes = _items(table, "fixes")
    if len(fixes):
        base = seq * LINES_PER_SEGMENT
        _write(pa.table([
            pa.repeat(source, len(fixes)).cast(pa.string()),
            pa.array(np.arange(base, base + len(fixes), dtype=np.int64)),
            *_columns(fixes, ("vehicle_id", "ts", "lat", "lon", "occupied")),
        ], schema=FIX_SCHEMA), directory / f"fixes-{_name(source, seq)}.parquet")  # fmt: skip
        out["fixes_landed"] = len(fixes)
    rides = _items(table, "rides")
    if len(rides):
        _write(pa.table([
            *_columns(rides, ("event_key", "vehicle_id", "kind", "ts", "lat", "lon")),
            pa.repeat(pa.scalar(received_at, RIDE_SCHEMA.field("received_at").type), len(rides)),
        ], schema=RIDE_SCHEMA), directory / f"rides-{_name(source, seq)}.parquet")  # fmt: skip
        out["rides_landed"] = len(rides)
    return out


def _items(table: pa.Table, kind: str) -> pa.ChunkedArray:
    """The items of the records of ``kind``, in order."""
    return pc.list_flatten(table.filter(pc.equal(table["kind"], kind))["items"])


def _columns(items: pa.ChunkedArray, names: tuple[str, ...]) -> list[pa.ChunkedArray]:
    """Fields of the items; times (ISO 8601 with an offset) as UTC instants."""
    return [pc.cast(pc.struct_field(items, n), pa.timestamp("us", tz="UTC")) if n == "ts"
            else pc.struct_field(items, n) for n in names]  # fmt: skip


def landed_fixes(directory: Path, source: str = SOURCE) -> tuple[int, int]:
    """Fixes landed in ``directory`` from ``source`` (``api``, ``api-w<k>``, ``stream``) and
    how many of them are distinct (vehicle, time): equal when nothing landed twice."""
    pattern = "fixes-[0-9]*.parquet" if source == SOURCE else f"fixes-{source}-*.parquet"
    if not any(directory.glob(pattern)):
        return 0, 0
    import duckdb

    con = duckdb.connect()
    try:
        row = con.execute(f"SELECT count(*), count(DISTINCT (vehicle_id, ts)) FROM "
                          f"read_parquet('{directory}/{pattern}')").fetchone()  # fmt: skip
    finally:
        con.close()
    return (int(row[0]), int(row[1])) if row is not None else (0, 0)
