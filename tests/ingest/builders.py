"""Tiny telemetry tables built in code."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from taxinav.ingest.validate import FIX_SCHEMA, QUARANTINE_SCHEMA

T0 = datetime(2008, 5, 20, 12, 0, tzinfo=UTC)
# One thousandth of a degree of latitude on the model sphere, in metres.
LAT_STEP_M = 6_371_008.8 * 3.141592653589793 / 180 * 0.001


def fixes(rows: list[tuple[str, int, float, float, bool]], source: str = "mem") -> pa.Table:
    """Rows of (vehicle, seconds after T0, lat, lon, occupied)."""
    ts = [int(T0.timestamp()) + s for _, s, _, _, _ in rows]
    return pa.table(
        {
            "vehicle_id": [r[0] for r in rows],
            "ts": pa.array([t * 1_000_000 for t in ts], pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "lat": [r[2] for r in rows],
            "lon": [r[3] for r in rows],
            "occupied": [r[4] for r in rows],
            "source": [source] * len(rows),
            "line": list(range(1, len(rows) + 1)),
        },
        schema=FIX_SCHEMA,
    )


def no_quarantine() -> pa.Table:
    return QUARANTINE_SCHEMA.empty_table()
