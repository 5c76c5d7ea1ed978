"""Idempotent loading of validated fixes into the warehouse.

A fix's key is (vehicle_id, ts). Repeats of a key with the same values are counted as
duplicates and dropped; repeats with other values are quarantined as
``conflicting_duplicate`` (the earliest source/line wins inside a batch; a fix already in the
warehouse always wins). Re-loading the same or
overlapping files therefore leaves every table unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

_QKEY = (
    "source || ':' || coalesce(line::VARCHAR, '') || ':' || coalesce(vehicle_id, '') || ':'"
    " || coalesce(epoch_us(ts)::VARCHAR, '') || ':' || reason"
)

INSERT_QUARANTINE = f"""
    INSERT INTO quarantine
    SELECT DISTINCT ON (qkey) * FROM (
        SELECT {_QKEY} AS qkey, source, line, vehicle_id, ts, field, reason, raw FROM {{src}}
    ) q
    WHERE qkey NOT IN (SELECT qkey FROM quarantine)
    ORDER BY qkey
"""


@dataclass
class LoadCounts:
    """What one load did, for summaries."""

    rows_read: int = 0
    loaded: int = 0
    already_loaded: int = 0
    duplicates: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)

    def add(self, other: LoadCounts) -> None:
        self.rows_read += other.rows_read
        self.loaded += other.loaded
        self.already_loaded += other.already_loaded
        self.duplicates += other.duplicates
        for reason, n in other.quarantined.items():
            self.quarantined[reason] = self.quarantined.get(reason, 0) + n


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchall()[0]
    return int(row[0]) if row else 0


def _reason_counts(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, int]:
    rows = con.execute(f"SELECT reason, count(*) FROM {table} GROUP BY reason").fetchall()
    return {str(r): int(n) for r, n in rows}


def load_fixes(con: duckdb.DuckDBPyConnection, fixes: pa.Table, quarantine: pa.Table) -> LoadCounts:
    """Merge one batch into ``telemetry`` and ``quarantine`` in a single transaction."""
    counts = LoadCounts(rows_read=fixes.num_rows + quarantine.num_rows)
    con.begin()
    try:
        con.register("staged_fixes", fixes)
        con.register("staged_quarantine", quarantine)
        con.execute("""
            CREATE OR REPLACE TEMP TABLE ranked AS
            SELECT *, row_number() OVER (PARTITION BY vehicle_id, ts ORDER BY source, line) AS rn
            FROM staged_fixes""")
        con.execute("""
            CREATE OR REPLACE TEMP TABLE rejected AS
            SELECT r.source, r.line, r.vehicle_id, r.ts, 'lat,lon,occupied' AS field,
                   'conflicting_duplicate' AS reason,
                   concat_ws(' ', r.lat, r.lon, r.occupied::INT, epoch(r.ts)) AS raw
            FROM ranked r
            LEFT JOIN ranked f ON f.vehicle_id = r.vehicle_id AND f.ts = r.ts AND f.rn = 1
            LEFT JOIN telemetry t ON t.vehicle_id = r.vehicle_id AND t.ts = r.ts
            WHERE (t.vehicle_id IS NOT NULL AND (t.lat, t.lon, t.occupied) IS DISTINCT FROM
                        (r.lat, r.lon, r.occupied))
               OR (t.vehicle_id IS NULL AND r.rn > 1 AND (f.lat, f.lon, f.occupied)
                        IS DISTINCT FROM (r.lat, r.lon, r.occupied))""")
        counts.duplicates = _count(
            con,
            """SELECT count(*) FROM ranked r WHERE rn > 1 AND NOT EXISTS (
                   SELECT 1 FROM rejected j WHERE j.source = r.source AND j.line = r.line)""",
        )
        counts.already_loaded = _count(
            con,
            """SELECT count(*) FROM ranked r JOIN telemetry t USING (vehicle_id, ts)
               WHERE r.rn = 1 AND (t.lat, t.lon, t.occupied) = (r.lat, r.lon, r.occupied)""",
        )
        counts.loaded = _count(con, "SELECT count(*) FROM telemetry")
        con.execute("""
            INSERT INTO telemetry
            SELECT vehicle_id, ts, lat, lon, occupied FROM ranked r
            WHERE rn = 1 AND NOT EXISTS (
                SELECT 1 FROM telemetry t WHERE t.vehicle_id = r.vehicle_id AND t.ts = r.ts)""")
        counts.loaded = _count(con, "SELECT count(*) FROM telemetry") - counts.loaded
        counts.quarantined = _reason_counts(con, "staged_quarantine")
        for reason, n in _reason_counts(con, "rejected").items():
            counts.quarantined[reason] = counts.quarantined.get(reason, 0) + n
        con.execute(INSERT_QUARANTINE.format(src="staged_quarantine"))
        con.execute(INSERT_QUARANTINE.format(src="rejected"))
        con.execute("DROP TABLE ranked; DROP TABLE rejected")
        con.unregister("staged_fixes")
        con.unregister("staged_quarantine")
        con.commit()
    except Exception:
        con.rollback()
        raise
    return counts
