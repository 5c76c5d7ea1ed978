"""A backfill grows linearly with its days: the daily pipeline over 7, 14, 28 and 35 days of
one synthetic city, timed in consecutive chunks in one home.

    python benchmarks/history.py [--size 6000:500] [--folder var/scale]

A day's features read only the ``HISTORY_DAYS`` (28) + 1 days before it, so once a backfill is
past them every further day costs the same. The city (``taxinav synth city``, 35 days) is kept
in --folder and reused. Prints, per chunk, its days, seconds per day and the backfill process's
peak memory, and the growth exponent of the cumulative seconds in the number of days.
Targets: that exponent ≤ 1.2, and the peak memory of the largest process of every chunk ≤
``--max-peak-gib`` (16: a 28-day backfill at 200,000 segments on a 24 GiB host) — exit 1 on a
miss. The seconds per day of the last chunk over the
one before are printed too (each chunk also pays one process start).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from scale import TAXINAV, Size, city_env, ensure_city, run_child, run_timed

CHUNKS = ((1, 7), (8, 14), (15, 28), (29, 35))  # days of the city, both ends included


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="6000:500")
    parser.add_argument("--folder", type=Path, default=Path("var/scale"))
    parser.add_argument("--max-peak-gib", type=float, default=16.0)
    args = parser.parse_args()
    n, m = (int(x) for x in args.size.split(":"))
    days = CHUNKS[-1][1]
    folder = args.folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    console = Console(width=140)
    log = folder / f"history-{n}-{m}.log"
    size = Size(n, m)
    city = ensure_city(folder, size, days, dict(os.environ), log)
    home = folder / f"history-home-{n}-{m}"
    subprocess.run(["rm", "-rf", str(home)], check=True)
    env = city_env(city, home)
    first = date.fromisoformat(json.loads((city / "city.json").read_text())["first_date"])
    for stage in ("landing", "roads"):
        _, _, rc = run_child(stage, env, log)
        if rc != 0:
            sys.exit(f"{stage} failed; see {log}")
    table = Table(title=f"backfill of a {n:,}-segment, {m:,}-taxi city, chunk by chunk")
    for h in ("days", "seconds", "s/day", "peak RSS MiB", "cumulative s"):
        table.add_column(h, justify="right")
    total, cumulative, per_day, peaks = 0.0, [], [], []
    for lo, hi in CHUNKS:
        cmd = [TAXINAV, "pipeline", "backfill", "--start", str(first + timedelta(days=lo - 1)),
               "--end", str(first + timedelta(days=hi - 1))]  # fmt: skip
        secs, peak, rc = run_timed(cmd, env, log)
        if rc != 0:
            sys.exit(f"backfill of days {lo}–{hi} failed; see {log}")
        total += secs
        cumulative.append((hi, total))
        per_day.append(secs / (hi - lo + 1))
        peaks.append(peak / 1024)
        table.add_row(f"{lo}–{hi}", f"{secs:.0f}", f"{per_day[-1]:.1f}", f"{peak:,.0f}",
                      f"{total:.0f}")  # fmt: skip
    console.print(table)
    x, y = np.log([c[0] for c in cumulative]), np.log([c[1] for c in cumulative])
    exponent = float(np.polyfit(x, y, 1)[0])
    ratio = per_day[-1] / per_day[-2]
    console.print(f"growth exponent of the cumulative seconds in days: {exponent:.2f} "
                  f"(target ≤ 1.2); s/day of days 29–35 over days 15–28: {ratio:.2f}")  # fmt: skip
    console.print(
        f"peak memory of a chunk: {max(peaks):.2f} GiB (target ≤ {args.max_peak_gib} GiB)"
    )
    missed = [name for name, bad in (("the growth exponent", exponent > 1.2),
              ("the peak memory", max(peaks) > args.max_peak_gib)) if bad]  # fmt: skip
    for name in missed:
        console.print(f"[red]missed:[/red] {name}")
    if missed:
        sys.exit(1)
    console.print("every stated target met")


if __name__ == "__main__":
    main()
