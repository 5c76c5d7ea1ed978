"""Loading logged API items into the landing store (idempotently: a replay is harmless)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from taxinav.ingest.load import load_fixes
from taxinav.ingest.validate import QUARANTINE_SCHEMA

SOURCE = "api"


def _ts(values: list[str]) -> pa.Array:
    return pa.array(
        [datetime.fromisoformat(v).astimezone(UTC) for v in values], pa.timestamp("us", tz="UTC")
    )


def load_records(
    con: duckdb.DuckDBPyConnection,
    records: list[tuple[str, list[dict[str, Any]]]],
    first_line: int = 1,
) -> Counter[str]:
    """Merge logged fixes into ``telemetry`` (a repeated key is a duplicate, a conflicting one
    is quarantined) and ride events into ``ride_events``."""
    fixes = [f for kind, items in records if kind == "fixes" for f in items]
    rides = [r for kind, items in records if kind == "rides" for r in items]
    out: Counter[str] = Counter()
    if fixes:
        table = pa.table(
            {
                "source": pa.array([SOURCE] * len(fixes), pa.string()),
                "line": pa.array(range(first_line, first_line + len(fixes)), pa.int64()),
                "vehicle_id": pa.array([f["vehicle_id"] for f in fixes], pa.string()),
                "ts": _ts([f["ts"] for f in fixes]),
                "lat": pa.array([float(f["lat"]) for f in fixes], pa.float64()),
                "lon": pa.array([float(f["lon"]) for f in fixes], pa.float64()),
                "occupied": pa.array([bool(f["occupied"]) for f in fixes], pa.bool_()),
            }
        )
        counts = load_fixes(con, table, QUARANTINE_SCHEMA.empty_table())
        out.update(
            fixes_loaded=counts.loaded,
            fixes_repeated=counts.already_loaded + counts.duplicates,
            fixes_quarantined=sum(counts.quarantined.values()),
        )
    if rides:
        now = datetime.now(UTC)
        before = con.execute("SELECT count(*) FROM ride_events").fetchall()[0][0]
        con.executemany(
            "INSERT INTO ride_events VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                (
                    r["event_key"],
                    r["vehicle_id"],
                    r["kind"],
                    datetime.fromisoformat(r["ts"]),
                    float(r["lat"]),
                    float(r["lon"]),
                    now,
                )
                for r in rides
            ],
        )
        after = con.execute("SELECT count(*) FROM ride_events").fetchall()[0][0]
        out.update(rides_loaded=int(after - before))
    return out
