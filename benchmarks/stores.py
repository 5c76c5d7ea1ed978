"""How the service and the pipeline share a home: the measurements behind the design.

    python benchmarks/stores.py [--fixes 10000] [--segments 20]

1. DuckDB's locking: a second process cannot open a store another process holds for
   writing, nor write one that others read — shown on a scratch file.
2. Landing the API's log segments: loading each closed segment into the landing DuckDB
   (what the flusher did) against writing it as a Parquet file (what it does now), per
   segment of ``--fixes`` fixes (2 s at 5,000 fixes/s), and reading a day back from each.
3. The read replica: publishing a copy of the real warehouse (``COPY FROM DATABASE``) and
   opening it, against the warehouse's size.
Prints a table and exits non-zero if a segment write exceeds its 2-second budget.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table

from taxinav.ingest.load import load_fixes
from taxinav.ingest.validate import QUARANTINE_SCHEMA
from taxinav.serve.landing import write_segment
from taxinav.settings import get_settings
from taxinav.warehouse import connect, open_reader, publish_reader, reader_path

BUDGET_S = 2.0  # one flush interval: a segment must land before the next one closes


def _hold(path: str, ready: Any, release: Any) -> None:
    con = duckdb.connect(path, read_only=True)
    ready.set()
    release.wait(30)
    con.close()


def locking(folder: Path) -> list[tuple[str, str]]:
    path = str(folder / "locks.duckdb")
    duckdb.connect(path).execute("CREATE TABLE t AS SELECT 1 AS x").close()
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(path, ready, release))
    holder.start()
    ready.wait(30)
    try:
        duckdb.connect(path).close()
        outcome = "opened (no lock)"
    except duckdb.IOException as exc:
        outcome = "refused: " + str(exc).splitlines()[0][:70]
    release.set()
    holder.join()
    return [("write while another process reads", outcome)]


def _records(n: int, seq: int) -> list[tuple[str, list[dict[str, Any]]]]:
    t0 = datetime(2008, 5, 20, 12, tzinfo=UTC) + timedelta(seconds=2 * seq)
    return [("fixes", [
        {"vehicle_id": f"cab{i % 500}", "ts": (t0 + timedelta(milliseconds=i)).isoformat(),
         "lat": 37.78 + (i % 97) * 1e-4, "lon": -122.41 + (i % 89) * 1e-4, "occupied": i % 3 == 0}
        for i in range(n)
    ])]  # fmt: skip


def landing(folder: Path, n: int, segments: int) -> tuple[list[tuple[str, str]], float]:
    import pyarrow as pa

    con = connect(folder / "landing.duckdb", threads=1)
    duck, parquet = [], []
    for seq in range(segments):
        records = _records(n, seq)
        fixes = records[0][1]
        table = pa.table({
            "source": ["api"] * n, "line": list(range(seq * n, (seq + 1) * n)),
            "vehicle_id": [f["vehicle_id"] for f in fixes],
            "ts": pa.array([datetime.fromisoformat(f["ts"]) for f in fixes],
                           pa.timestamp("us", tz="UTC")),
            "lat": [f["lat"] for f in fixes], "lon": [f["lon"] for f in fixes],
            "occupied": [f["occupied"] for f in fixes],
        })  # fmt: skip
        started = time.perf_counter()
        load_fixes(con, table, QUARANTINE_SCHEMA.empty_table())
        duck.append(time.perf_counter() - started)
        started = time.perf_counter()
        write_segment(folder / "api", seq, records, datetime.now(UTC))
        parquet.append(time.perf_counter() - started)
    started = time.perf_counter()
    con.execute("SELECT count(*) FROM telemetry WHERE ts >= '2008-05-20'").fetchall()
    read_duck = time.perf_counter() - started
    con.close()
    started = time.perf_counter()
    duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet('{folder}/api/fixes-*.parquet') "
        "WHERE ts >= '2008-05-20'"
    ).fetchall()
    read_parquet = time.perf_counter() - started
    worst = max(parquet)
    return [
        (f"land a {n:,}-fix segment into DuckDB (median / max)",
         f"{statistics.median(duck) * 1e3:.0f} / {max(duck) * 1e3:.0f} ms"),
        (f"land a {n:,}-fix segment as Parquet (median / max)",
         f"{statistics.median(parquet) * 1e3:.0f} / {worst * 1e3:.0f} ms"),
        (f"read {segments} segments back: DuckDB / Parquet",
         f"{read_duck * 1e3:.0f} / {read_parquet * 1e3:.0f} ms"),
    ], worst  # fmt: skip


def replica() -> list[tuple[str, str]]:
    settings = get_settings()
    if not settings.warehouse_path.exists():
        return [("read replica", f"no warehouse at {settings.warehouse_path}; run make demo")]
    size = settings.warehouse_path.stat().st_size / 2**20
    started = time.perf_counter()
    publish_reader(settings)
    publish = time.perf_counter() - started
    started = time.perf_counter()
    con = open_reader(settings)
    n = con.execute("SELECT count(*) FROM telemetry").fetchall()[0][0]
    con.close()
    opened = time.perf_counter() - started
    copy = reader_path(settings).stat().st_size / 2**20
    return [
        ("warehouse size / replica size", f"{size:,.0f} / {copy:,.0f} MiB"),
        ("publish the replica (COPY FROM DATABASE)", f"{publish:.1f} s"),
        (f"open the replica and count {n:,} fixes", f"{opened * 1e3:.0f} ms"),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--fixes", type=int, default=10_000)
    p.add_argument("--segments", type=int, default=20)
    a = p.parse_args()
    console = Console()
    table = Table(title="sharing a home between the service and the pipeline (2 cores)")
    table.add_column("measure")
    table.add_column("value")
    with tempfile.TemporaryDirectory() as tmp:
        rows = locking(Path(tmp))
        land, worst = landing(Path(tmp), a.fixes, a.segments)
    for row in (*rows, *land, *replica()):
        table.add_row(*row)
    console.print(table)
    if worst > BUDGET_S:
        console.print(f"[red]a segment took {worst:.2f} s to land (budget {BUDGET_S:g} s)[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
