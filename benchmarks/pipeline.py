"""Pipeline benchmark: the Dagster pipeline in-process on all shared data, in a fresh home.

    python benchmarks/pipeline.py

Prints the time of the sources (landing of all files, road network), of a full backfill of
every day, of one day's partition run (all daily assets), of a middle-step re-run, and checks
that re-running a day leaves every table byte-identical. Model tracking is off (the forecasts
are the base model's), so only the pipeline is timed.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from taxinav.console import progress_bar
from taxinav.demo import data_days
from taxinav.pipeline import runner
from taxinav.settings import MlopsSettings, get_settings
from taxinav.warehouse import TABLES, connect, table_checksum


def _checksums(path: Path) -> dict[str, tuple[int, str]]:
    con = connect(path)
    try:
        return {t: table_checksum(con, t) for t in TABLES if t != "step_runs"}
    finally:
        con.close()


def main() -> None:
    console = Console()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        s = get_settings().model_copy(
            update={"home": Path(tmp) / "var", "mlops": MlopsSettings(track=False)}
        )
        with runner.instance_for(s) as instance:
            src = runner.materialize(s, runner.SOURCES, None, instance)
            rows.append(
                (
                    "sources: landing (all files) + road network",
                    f"{src.seconds:.1f} s",
                    f"{src.metadata['landing']['loaded']:,} fixes landed",
                )
            )
            first, last = data_days(s)
            n = (last - first).days + 1
            with progress_bar(console) as bar:
                task = bar.add_task("backfill", total=2 * n)
                t0 = time.perf_counter()
                runs = runner.backfill(s, first, last, instance, on_run=lambda _: bar.advance(task))
                backfill_s = time.perf_counter() - t0
            blocked = [r.day.isoformat() for r in runs if r.failed_checks]
            rows.append(
                (
                    f"full backfill, {n} days × {len(runner.partitioned_assets(s))} assets",
                    f"{backfill_s:.1f} s",
                    f"{backfill_s / n:.1f} s per day; blocked days: {blocked or 'none'}",
                )
            )
            mid = first + (last - first) // 2
            before = _checksums(s.warehouse_path)
            one = runner.materialize(s, runner.partitioned_assets(s), mid, instance)
            same = _checksums(s.warehouse_path) == before
            rows.append(
                (
                    f"one-day partition run ({mid}), all daily assets",
                    f"{one.seconds:.1f} s",
                    f"tables byte-identical after: {same}",
                )
            )
            middle = runner.partitioned_assets(s)[runner.partitioned_assets(s).index("demand") :]
            again = runner.materialize(s, middle, mid, instance)
            rows.append(
                (
                    f"middle-step re-run ({', '.join(middle)})",
                    f"{again.seconds:.1f} s",
                    "upstream untouched",
                )
            )
            _per_asset(rows, runs)
    table = Table(title="taxinav pipeline benchmark")
    for h in ("step", "time", "note"):
        table.add_column(h)
    for r in rows:
        table.add_row(*r)
    console.print(table)


def _per_asset(rows: list[tuple[str, str, str]], runs: list[runner.DayRun]) -> None:
    tele = [r.seconds for r in runs if r.assets == list(runner.FIRST_PHASE)]
    rest = [r.seconds for r in runs if r.assets != list(runner.FIRST_PHASE)]
    for name, xs in (("telemetry run per day", tele), ("downstream run per day", rest)):
        if xs:
            rows.append((name, f"{sum(xs) / len(xs):.1f} s mean", f"max {max(xs):.1f} s"))


if __name__ == "__main__":
    main()
