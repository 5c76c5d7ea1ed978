"""Per-day and per-source ingest jobs: files into the landing store, and a local day of
landed fixes into the warehouse (each replaces its rows in one transaction, so running it
twice leaves byte-identical tables).

Telemetry arrives in the *landing* store (files through :func:`ingest_files`, or the API); a
day's partition copies that day's validated fixes into the warehouse.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from taxinav.calendar import Day
from taxinav.ingest.cabspotting import list_files
from taxinav.ingest.load import load_fixes
from taxinav.ingest.service import IngestReport, SourceKind, ingest_files
from taxinav.ingest.validate import QUARANTINE_SCHEMA, Rules
from taxinav.warehouse import connect, retry_on_lock

GENERIC_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def list_source_files(kind: SourceKind, directory: Path) -> list[Path]:
    """The telemetry files of ``directory`` in the layout ``kind``, sorted by name:
    cabspotting's ``new_<cab>.txt[.gz]``, or the generic schema's CSV / Parquet files."""
    if kind == "cabspotting":
        return list_files(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory")
    return sorted(p for p in directory.iterdir() if p.name.endswith(GENERIC_SUFFIXES))


def ingest_directory(
    con: duckdb.DuckDBPyConnection,
    kind: SourceKind,
    directory: Path,
    rules: Rules,
    *,
    workers: int,
    max_speed_kmh: float,
    jump_rounds: int,
    on_file: Callable[[Path], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> IngestReport:
    """Every telemetry file of ``directory`` (layout ``kind``) into the landing store ``con``."""
    files = list_source_files(kind, directory)
    if on_start is not None:
        on_start(len(files))
    return ingest_files(
        con, files, kind, rules, workers=workers, max_speed_kmh=max_speed_kmh,
        jump_rounds=jump_rounds, on_file=on_file,
    )  # fmt: skip


def landed_days(landing: Path, tz: ZoneInfo, first_day: date) -> tuple[date, date]:
    """First and last local day in the landing store (the first no earlier than
    ``first_day``, the pipeline's first partition)."""
    con = connect(landing, read_only=True)
    try:
        lo, hi = con.execute("SELECT min(ts), max(ts) FROM telemetry").fetchall()[0]
    finally:
        con.close()
    if lo is None:
        raise LookupError(f"no telemetry landed in {landing}")
    return max(lo.astimezone(tz).date(), first_day), hi.astimezone(tz).date()


def telemetry_day(
    con: duckdb.DuckDBPyConnection, landing: Path, d: Day, api: Path | None = None
) -> dict[str, Any]:
    """Copy the day's validated fixes and quarantined rows from the landing store, then merge
    the fixes and ride events the API accepted (Parquet segments under ``api``): a key seen
    already is a duplicate, a conflicting one is quarantined."""
    if not landing.exists():
        raise FileNotFoundError(f"no landing store at {landing}; run the landing step first")
    retry_on_lock(lambda: con.execute(f"ATTACH '{landing}' AS landing (READ_ONLY)"), 600.0)
    span = "ts >= ? AND ts < ?"
    try:
        con.begin()
        try:
            con.execute(f"DELETE FROM telemetry WHERE {span}", [d.start, d.end])
            con.execute(
                f"""INSERT INTO telemetry SELECT * FROM landing.telemetry
                            WHERE {span} ORDER BY vehicle_id, ts""",
                [d.start, d.end],
            )
            # Rows without a usable time (malformed lines) belong to no day: every
            # partition mirrors them, which keeps them counted and idempotent.
            con.execute(f"DELETE FROM quarantine WHERE ({span}) OR ts IS NULL", [d.start, d.end])
            con.execute(
                f"""INSERT INTO quarantine SELECT * FROM landing.quarantine
                            WHERE ({span}) OR ts IS NULL ORDER BY qkey""",
                [d.start, d.end],
            )
            con.commit()
        except Exception:
            con.rollback()
            raise
    finally:
        con.execute("DETACH landing")
    out: dict[str, Any] = {}
    if api is not None:
        out.update(_api_day(con, api, d))
    fixes, vehicles = con.execute(
        f"SELECT count(*), count(DISTINCT vehicle_id) FROM telemetry WHERE {span}",
        [d.start, d.end],
    ).fetchall()[0]
    reasons = con.execute(
        f"SELECT reason, count(*) FROM quarantine WHERE {span} GROUP BY ALL ORDER BY 1",
        [d.start, d.end],
    ).fetchall()
    return {
        "fixes": int(fixes),
        "vehicles": int(vehicles),
        "quarantined": {str(r): int(n) for r, n in reasons},
        **out,
    }


def _api_day(con: duckdb.DuckDBPyConnection, api: Path, d: Day) -> dict[str, int]:
    """The API's fixes and ride events of the day, from its landing segments."""
    out = {"api_fixes": 0, "api_fixes_loaded": 0, "api_rides": 0}
    if any(api.glob("fixes-*.parquet")):
        fixes = con.sql(
            f"""SELECT source, line, vehicle_id, ts, lat, lon, occupied
                FROM read_parquet('{api}/fixes-*.parquet')
                WHERE ts >= $s AND ts < $e ORDER BY line""",
            params={"s": d.start, "e": d.end},
        ).to_arrow_table()
        counts = load_fixes(con, fixes, QUARANTINE_SCHEMA.empty_table())
        out.update(api_fixes=fixes.num_rows, api_fixes_loaded=counts.loaded)
    if any(api.glob("rides-*.parquet")):
        before = con.execute("SELECT count(*) FROM ride_events").fetchall()[0][0]
        con.execute(
            f"""INSERT INTO ride_events SELECT * FROM read_parquet('{api}/rides-*.parquet')
                WHERE ts >= $s AND ts < $e ORDER BY event_key ON CONFLICT DO NOTHING""",
            {"s": d.start, "e": d.end},
        )
        after = con.execute("SELECT count(*) FROM ride_events").fetchall()[0][0]
        out["api_rides"] = int(after - before)
    return out
