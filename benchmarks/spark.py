"""The daily demand counts and features on Spark (local[2]) against embedded DuckDB.

    python benchmarks/spark.py [--home var] [--days 7] [--units h3,road]

Copies the warehouse of ``--home`` (the demo's: run `make demo` first) to a scratch home, then
times, for the last ``--days`` full local days of its telemetry, the pipeline's two per-day
steps — ``demand`` (counts of H3 cells and road segments) and ``features_<unit>`` — once with
``TAXINAV_ENGINE=duckdb`` and once with ``spark`` (each Spark step starts its own session and
JVM, as a pipeline step does; the first Spark features step also copies the earlier days'
counts from the warehouse to the lake). Printed: seconds of the first day and of the whole
span, per step and engine. Target: the Spark run's ``demand_counts`` and ``unit_features``
rows of those days equal the DuckDB run's (features within 1e-12 relative) — exit 1 if not.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from taxinav import roads
from taxinav.calendar import Day
from taxinav.features.counts import CountSpec, demand_day
from taxinav.forecast.daily import features_day
from taxinav.pipeline.assets.spark import lake_demand_day, lake_features_day
from taxinav.settings import Settings
from taxinav.warehouse import open_warehouse


def _days(s: Settings, n: int) -> list[Day]:
    with open_warehouse(s) as con:
        hi = con.execute("SELECT max(ts) FROM telemetry").fetchall()[0][0]
    if hi is None:
        raise SystemExit("error: the warehouse has no telemetry; run `make demo` first")
    last = hi.astimezone(s.tz).date() - timedelta(days=1)  # the last full day
    return [Day.of(last - timedelta(days=k), s.tz) for k in reversed(range(n))]


def _run(s: Settings, days: list[Day], units: list[str]) -> dict[str, list[float]]:
    """Seconds per day of each step, with ``s.engine``."""
    spec = CountSpec.of(s)
    took: dict[str, list[float]] = {step: [] for step in ["demand", *units]}
    for d in days:
        t = time.perf_counter()
        if s.engine == "spark":
            lake_demand_day(s, spec, d)
        else:
            with open_warehouse(s) as con:
                demand_day(con, spec, roads.read_graph(con), d)
        took["demand"].append(time.perf_counter() - t)
        for unit in units:
            t = time.perf_counter()
            if s.engine == "spark":
                lake_features_day(s, spec, unit, d)
            else:
                with open_warehouse(s) as con:
                    features_day(con, spec, roads.read_graph(con), unit, d)
            took[unit].append(time.perf_counter() - t)
        print(f"  {s.engine} {d.day}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in took.items()))
    return took


def _rows(s: Settings, days: list[Day]) -> dict[str, pa.Table]:
    span = [days[0].start, days[-1].end]
    with open_warehouse(s) as con:
        return {
            "demand_counts": con.sql(
                """SELECT * FROM demand_counts WHERE slot_start >= ? AND slot_start < ?
                   ORDER BY unit_type, unit_id, slot_start""", params=span).to_arrow_table(),
            "unit_features": con.sql(
                """SELECT * FROM unit_features WHERE slot_start >= ? AND slot_start < ?
                   ORDER BY unit_type, slot_start, unit_id""", params=span).to_arrow_table(),
        }  # fmt: skip


def _equal(a: dict[str, pa.Table], b: dict[str, pa.Table]) -> list[str]:
    """What differs between two runs' rows (empty: nothing)."""
    out = []
    if not a["demand_counts"].equals(b["demand_counts"]):
        out.append("demand_counts")
    fa, fb = a["unit_features"], b["unit_features"]
    if fa.num_rows != fb.num_rows or fa.num_rows == 0:
        return [*out, f"unit_features rows {fa.num_rows} vs {fb.num_rows}"]
    for col in ("unit_type", "unit_id", "slot_start", "y", "y_complete"):
        if not fa[col].equals(fb[col]):
            out.append(f"unit_features.{col}")
    xa = np.array(fa["x"].to_pylist(), dtype=np.float64)
    xb = np.array(fb["x"].to_pylist(), dtype=np.float64)
    if not np.allclose(xa, xb, rtol=1e-12, atol=0, equal_nan=True):
        out.append("unit_features.x")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", type=Path, default=Path("var"))
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--units", default="h3,road")
    args = ap.parse_args()
    units = [u for u in args.units.split(",") if u]
    source = args.home / "warehouse.duckdb"
    if not source.exists():
        print(f"error: no warehouse at {source}; run `make demo` first", file=sys.stderr)
        return 1
    console = Console()
    with tempfile.TemporaryDirectory(prefix="taxinav-spark-bench-") as tmp:
        home = Path(tmp)
        shutil.copy(source, home / "warehouse.duckdb")
        base = Settings(home=home)
        days = _days(base, args.days)
        console.print(f"days {days[0].day} … {days[-1].day}, units {', '.join(units)}, "
                      f"Spark master {base.spark.master}")  # fmt: skip
        took: dict[str, dict[str, list[float]]] = {}
        rows: dict[str, dict[str, pa.Table]] = {}
        for engine in ("duckdb", "spark"):
            s = base.model_copy(update={"engine": engine})
            took[engine] = _run(s, days, units)
            rows[engine] = _rows(s, days)
    table = Table(title=f"Seconds per step ({len(days)} days; one Spark session per step)")
    for col in ("step", "DuckDB, first day", "Spark, first day", f"DuckDB, {len(days)} days",
                f"Spark, {len(days)} days"):  # fmt: skip
        table.add_column(col, justify="right")
    for step in took["duckdb"]:
        dd, sp = took["duckdb"][step], took["spark"][step]
        step_name = step if step == "demand" else f"features_{step}"
        table.add_row(step_name, f"{dd[0]:.1f}", f"{sp[0]:.1f}", f"{sum(dd):.1f}", f"{sum(sp):.1f}")
    total = {e: sum(sum(v) for v in took[e].values()) for e in took}
    table.add_row("all", "", "", f"{total['duckdb']:.1f}", f"{total['spark']:.1f}")
    console.print(table)
    differ = _equal(rows["duckdb"], rows["spark"])
    n = rows["duckdb"]["unit_features"].num_rows
    if differ:
        console.print(f"[red]MISSED[/red]: the engines' rows differ in {', '.join(differ)}")
        return 1
    console.print(f"met: demand_counts and {n:,} unit_features rows equal on both engines")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
