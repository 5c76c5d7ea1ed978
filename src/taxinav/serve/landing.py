"""The API's landing segments: each closed append-log segment becomes Parquet files —
``fixes-<seq>.parquet`` and ``rides-<seq>.parquet`` — written to a temporary name, fsynced
and renamed, so a reader (the daily pipeline) sees whole files or none, and no process ever
waits for a lock. Writing a segment again (a crash before its log file was deleted) replaces
the same files: nothing is landed twice."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
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


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


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


def write_segment(
    directory: Path, seq: int, records: list[tuple[str, list[dict[str, Any]]]],
    received_at: datetime, source: str = SOURCE,
) -> Counter[str]:  # fmt: skip
    """Land one log segment's records (``source``: ``api`` for the append log's segments,
    ``stream`` for JetStream messages, numbered by their stream sequence); returns what was
    written."""
    directory.mkdir(parents=True, exist_ok=True)
    fixes = [f for kind, items in records if kind == "fixes" for f in items]
    rides = [r for kind, items in records if kind == "rides" for r in items]
    out: Counter[str] = Counter()
    if fixes:
        base = seq * LINES_PER_SEGMENT
        _write(pa.Table.from_pylist([
            {"source": source, "line": base + i, "vehicle_id": f["vehicle_id"],
             "ts": _ts(f["ts"]), "lat": float(f["lat"]), "lon": float(f["lon"]),
             "occupied": bool(f["occupied"])} for i, f in enumerate(fixes)
        ], schema=FIX_SCHEMA), directory / f"fixes-{_name(source, seq)}.parquet")  # fmt: skip
        out["fixes_landed"] = len(fixes)
    if rides:
        _write(pa.Table.from_pylist([
            {"event_key": r["event_key"], "vehicle_id": r["vehicle_id"], "kind": r["kind"],
             "ts": _ts(r["ts"]), "lat": float(r["lat"]), "lon": float(r["lon"]),
             "received_at": received_at} for r in rides
        ], schema=RIDE_SCHEMA), directory / f"rides-{_name(source, seq)}.parquet")  # fmt: skip
        out["rides_landed"] = len(rides)
    return out


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
