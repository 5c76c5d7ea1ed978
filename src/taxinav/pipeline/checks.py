"""Data-quality gates of a daily partition: pure queries returning pass/fail with numbers.

The Dagster assets report them as blocking asset checks (a failed gate stops the day's
downstream assets) and send a ``data_quality`` alert through the monitor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import duckdb
import numpy as np

from taxinav.calendar import Day

RECENT_DAYS = 7


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    value: float
    detail: str


def _counts_by_day(con: duckdb.DuckDBPyConnection, table: str, col: str, d: Day) -> list[int]:
    """Rows per day over the ``RECENT_DAYS`` days before ``d`` (days with none left out)."""
    out = []
    for k in range(1, RECENT_DAYS + 1):
        lo, hi = d.start - timedelta(days=k), d.end - timedelta(days=k)
        row = con.execute(
            f"SELECT count(*) FROM {table} WHERE {col} >= ? AND {col} < ?", [lo, hi]
        ).fetchall()
        if row and row[0][0]:
            out.append(int(row[0][0]))
    return out


def row_count(
    con: duckdb.DuckDBPyConnection, table: str, col: str, d: Day, min_ratio: float
) -> Check:
    """The day has rows, and at least ``min_ratio`` of the median of the recent days."""
    n = int(
        con.execute(
            f"SELECT count(*) FROM {table} WHERE {col} >= ? AND {col} < ?", [d.start, d.end]
        ).fetchall()[0][0]
    )
    recent = _counts_by_day(con, table, col, d)
    if not recent:
        return Check(f"{table}_row_count", n > 0, n, f"{n:,} rows; no earlier day to compare")
    median = float(np.median(recent))
    ratio = n / median
    return Check(
        f"{table}_row_count",
        n > 0 and ratio >= min_ratio,
        ratio,
        f"{n:,} rows = {ratio:.2f} × median of {len(recent)} earlier days "
        f"({median:,.0f}); minimum {min_ratio:.2f}",
    )


def null_rate(con: duckdb.DuckDBPyConnection, d: Day) -> Check:
    """Share of the day's fixes with a missing position or occupancy (must be zero)."""
    n, bad = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE lat IS NULL OR lon IS NULL OR occupied IS NULL
                  OR isnan(lat) OR isnan(lon))
           FROM telemetry WHERE ts >= ? AND ts < ?""",
        [d.start, d.end],
    ).fetchall()[0]
    rate = bad / n if n else 0.0
    return Check("telemetry_null_rate", bad == 0, rate, f"{bad:,} of {n:,} fixes incomplete")


def coordinate_range(
    con: duckdb.DuckDBPyConnection,
    d: Day,
    bbox: tuple[float, float, float, float],
    min_inside: float = 0.9,
    margin_deg: float = 0.25,
) -> Check:
    """Share of the day's fixes within the road network's bounding box (plus a margin)."""
    lat0, lat1, lon0, lon1 = bbox
    n, inside = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?)
           FROM telemetry WHERE ts >= ? AND ts < ?""",
        [
            lat0 - margin_deg,
            lat1 + margin_deg,
            lon0 - margin_deg,
            lon1 + margin_deg,
            d.start,
            d.end,
        ],
    ).fetchall()[0]
    share = inside / n if n else 1.0
    return Check(
        "telemetry_coordinate_range",
        share >= min_inside,
        share,
        f"{share:.1%} of {n:,} fixes near the network; minimum {min_inside:.0%}",
    )


def matched_share(con: duckdb.DuckDBPyConnection, d: Day, minimum: float) -> Check:
    """Share of the day's pickups snapped to a road segment."""
    n, matched = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE status = 'matched') FROM trip_end_matches
           WHERE end_kind = 'pickup' AND ts >= ? AND ts < ?""",
        [d.start, d.end],
    ).fetchall()[0]
    share = matched / n if n else 0.0
    return Check(
        "pickups_matched_share",
        n > 0 and share >= minimum,
        share,
        f"{matched:,} of {n:,} pickups on a road ({share:.1%}); minimum {minimum:.0%}",
    )
