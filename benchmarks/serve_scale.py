"""The service at city scale: `taxinav serve` on a synthetic city of `benchmarks/scale.py`,
replaying a day of its fleet, with its peak memory against the target.

    python benchmarks/serve_scale.py [--size 200000:5000] [--folder var/scale] [--seconds 300]
                                     [--home DIR --city DIR]

Needs a city and its home from `benchmarks/scale.py` or `benchmarks/history.py` (`--home`,
`--city`: the warehouse after its daily pipeline); the home is copied, so the benchmark leaves
it as it was. The service loads the city's last day, replays that day's telemetry at
`--speed` (60: an hour of the fleet a minute, the live loop re-planning once a minute of wall
time) and is asked meanwhile for `/v1/demand` (the whole network and a view), `/v1/vehicles`
and routes. Printed: the resident memory of the service and its child processes every 15 s
and at its peak, the requests' latencies and sizes. Target: peak ≤ `--max-gib` (8) — exit 1 on
a miss or on a failed request.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from scale import TAXINAV, city_env
from service import _port, _rss_mib, _wait_ready
from taxinav.settings import DEV_TOKENS

OPERATOR = {"Authorization": "Bearer " + next(t for t, (r, _) in DEV_TOKENS.items()
                                              if r == "operator")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="200000:5000")
    parser.add_argument("--folder", type=Path, default=Path("var/scale"))
    parser.add_argument("--home", type=Path, help="the city's home (default --folder/home-N-M)")
    parser.add_argument("--city", type=Path, help="the city (default: the newest city-N-M-*)")
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--speed", type=float, default=60)
    parser.add_argument("--max-gib", type=float, default=8.0)
    args = parser.parse_args()
    n, m = (int(x) for x in args.size.split(":"))
    folder = args.folder.resolve()
    source = (args.home or folder / f"home-{n}-{m}").resolve()
    cities = sorted(folder.glob(f"city-{n}-{m}-*"), key=lambda p: p.stat().st_mtime)
    city = (args.city or (cities[-1] if cities else folder / "none")).resolve()
    if not (source / "warehouse.duckdb").is_file() or not (city / "city.json").is_file():
        sys.exit(f"no city {city} or no home {source}: run `python benchmarks/scale.py` first")
    meta = json.loads((city / "city.json").read_text())
    day = date.fromisoformat(meta["first_date"]) + timedelta(days=int(meta["days"]) - 1)
    console = Console(width=120)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        shutil.copytree(source, home)
        env = city_env(city, home)
        env["TAXINAV_SERVE__MIN_REFRESH_WALL_S"] = "60"
        env["TAXINAV_LOG_LEVEL"] = "WARNING"
        port = _port()
        cmd = [TAXINAV, "serve", "--port", str(port), "--day", day.isoformat(),
               "--replay", day.isoformat(), "--speed", str(args.speed)]  # fmt: skip
        log = open(Path(tmp) / "serve.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        try:
            _wait_ready(base, proc)
            ready_s = time.monotonic() - started
            rss, calls, failures = _watch(base, proc, args.seconds, console)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            log.close()
        if failures:
            console.print((Path(tmp) / "serve.log").read_text()[-3000:])
    _report(console, n, m, day, ready_s, rss, calls, failures, args.max_gib)


Calls = dict[str, list[tuple[float, int]]]  # per request: (milliseconds, bytes) of each


def _watch(base: str, proc: subprocess.Popen[bytes], seconds: float,
           console: Console) -> tuple[list[float], Calls, list[str]]:  # fmt: skip
    """Sample memory every second; every 15 s ask the service what a map and a driver ask."""
    rss: list[float] = []
    calls: Calls = {}
    failures: list[str] = []
    t0 = time.monotonic()
    next_ask = t0
    with httpx.Client(base_url=base, headers=OPERATOR, timeout=120) as client:
        while time.monotonic() - t0 < seconds and proc.poll() is None:
            rss.append(_rss_mib(proc.pid))
            if time.monotonic() >= next_ask:
                next_ask += 15
                console.print(f"{time.monotonic() - t0:5.0f} s  {rss[-1]:8,.0f} MiB")
                _ask(client, calls, failures)
            time.sleep(1.0)
    if proc.poll() is not None:
        failures.append(f"the service exited with {proc.returncode}")
    return rss, calls, failures


def _ask(client: httpx.Client, calls: Calls,
         failures: list[str]) -> None:  # fmt: skip
    paths = {"/v1/demand?unit=road (whole network)": "/v1/demand?unit=road",
             "/v1/demand?unit=road&bbox= (a view)": "/v1/demand?unit=road&bbox="
             "-122.42,37.78,-122.40,37.80",
             "/v1/vehicles": "/v1/vehicles"}  # fmt: skip
    for name, path in paths.items():
        _call(client, name, path, calls, failures)
    vehicles = client.get("/v1/vehicles")
    features = vehicles.json()["features"] if vehicles.status_code == 200 else []
    vacant = [f["properties"]["vehicle_id"] for f in features if not f["properties"]["occupied"]]
    for vid in vacant[:5]:
        _call(client, "/v1/vehicles/{id}/route", f"/v1/vehicles/{vid}/route", calls, failures,
              ok=(200, 404, 409))  # fmt: skip


def _call(client: httpx.Client, name: str, path: str, calls: Calls,
          failures: list[str], ok: tuple[int, ...] = (200, 503)) -> None:  # fmt: skip
    """One request; 503 is the service saying its first plan is not ready (not a failure)."""
    t = time.perf_counter()
    try:
        r = client.get(path)
    except httpx.HTTPError as exc:
        failures.append(f"{path}: {exc}")
        return
    if r.status_code not in ok:
        failures.append(f"{path}: {r.status_code} {r.text[:200]}")
    elif r.status_code == 200:
        calls.setdefault(name, []).append(((time.perf_counter() - t) * 1000, len(r.content)))


def _report(console: Console, n: int, m: int, day: date, ready_s: float, rss: list[float],
            calls: Calls, failures: list[str],
            max_gib: float) -> None:  # fmt: skip
    table = Table(title=f"taxinav serve on a {n:,}-segment, {m:,}-taxi city, replaying {day}")
    for h in ("measure", "value", "target"):
        table.add_column(h)
    peak = max(rss, default=0.0) / 1024
    table.add_row("ready after (s)", f"{ready_s:.1f}", "")
    table.add_row("resident memory of the service and its children: peak / last (GiB)",
                  f"{peak:.2f} / {rss[-1] / 1024 if rss else 0:.2f}", f"≤ {max_gib}")  # fmt: skip
    for name, got in sorted(calls.items()):
        ms = sorted(x for x, _ in got)
        table.add_row(f"{name}: requests, median ms, largest MiB",
                      f"{len(got)}, {ms[len(ms) // 2]:.0f}, "
                      f"{max(b for _, b in got) / 2**20:.2f}", "")  # fmt: skip
    table.add_row("failed requests", str(len(failures)), "0")
    console.print(table)
    for f in failures[:10]:
        console.print(f"[red]{f}[/red]")
    missed = [w for w, bad in (("peak memory", peak > max_gib), ("requests", bool(failures)))
              if bad]  # fmt: skip
    if missed:
        console.print(f"[red]missed:[/red] {', '.join(missed)}")
        sys.exit(1)
    console.print("every stated target met")


if __name__ == "__main__":
    main()
