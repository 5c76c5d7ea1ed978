"""Service load and soak on loopback: sustained telemetry ingestion plus route requests, with
the pipeline's daily job running in the same home.

    python benchmarks/service.py [--seconds 600] [--fixes-per-s 5000] [--routes-per-s 200]

A server (``taxinav serve``) runs in its own process on a copy of the home (warehouse, its
published read copy, the file landing; the API landing starts empty). Real fixes of the last
days of the shared data are posted, as a telemetry gateway would, to the ingest process's own
port (``--via-api``: to the API port, which forwards them) at the target rate (600× faster
than they happened; forecasts and plans refresh once a minute of wall time, as in real use)
while a second
process requests the routes of vacant taxis, and ``taxinav pipeline run`` materialises a day
again and again in the same home. At the end the server is stopped and every acknowledged fix
is looked up in the API landing. Prints a table and exits 1 on a missed target: route p99 <
50 ms, acknowledgement p99 < 100 ms, no error, no acknowledged fix lost or landed twice,
every pipeline run successful, server memory flat (start, middle and end within 10 %).

The live state holds the last ``KEEP_DAYS`` days of counts by design, so it fills for that
long in data time before memory can be flat: the run first warms up for as long as those days
take at the target rate (about 5 minutes), then lasts ``--seconds`` more. Latencies, errors and
losses count over the whole run; memory "start" is the first minute after the warm-up (its
value after the first minute is printed too).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from taxinav.demo import data_days
from taxinav.mlops.job import tree_rss_gib
from taxinav.serve.live import KEEP_DAYS
from taxinav.serve.replay import day_fixes
from taxinav.settings import DEV_TOKENS, get_settings
from taxinav.warehouse import publish_reader

TOKENS = {role: t for t, (role, _) in DEV_TOKENS.items()}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mib(pid: int) -> tuple[float, float]:
    """Resident MiB of the server with its child processes (the ingest process; while a day
    is loaded, its loader), and of the server's own process."""
    try:
        own = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGESIZE")
    except OSError:
        own = 0
    return tree_rss_gib(pid) * 1024, own / 2**20


def _unread(base: str) -> float | None:
    """Batches the ingest process acknowledged that the service has not read yet."""
    headers = {"Authorization": f"Bearer {TOKENS['operator']}"}
    try:
        text = httpx.get(f"{base}/metrics", headers=headers, timeout=30).text
    except httpx.HTTPError:
        return None
    found = re.search(r"^taxinav_ingest_unread_batches (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


class Load:
    def __init__(self, base: str, seconds: float, ingest_base: str | None = None) -> None:
        self.base, self.seconds = base, seconds
        self.ingest_base = ingest_base or base
        self.stop = threading.Event()
        self.latency: list[float] = []
        self.codes: dict[int, int] = {}
        self.errors = 0
        self.acked = 0
        self.ingest_latency: list[float] = []
        self.vacant: list[str] = []
        self.lock = threading.Lock()

    def ingest(self, bodies: list[bytes], counts: list[int], per_s: int) -> None:
        headers = {"Authorization": f"Bearer {TOKENS['ingest']}",
                   "Content-Type": "application/json"}  # fmt: skip
        start = time.monotonic()
        with httpx.Client(base_url=self.ingest_base, timeout=30, headers=headers) as c:
            for k, body in enumerate(bodies):
                if self.stop.is_set():
                    break
                due = start + k * 1000 / per_s  # one 1000-fix batch every 1000/per_s seconds
                time.sleep(max(0.0, due - time.monotonic()))
                t = time.perf_counter()
                try:
                    r = c.post("/v1/telemetry", content=body)
                except httpx.HTTPError:
                    with self.lock:
                        self.errors += 1
                    continue
                self.ingest_latency.append(time.perf_counter() - t)
                if r.status_code == 200:
                    self.acked += r.json()["accepted"]
                else:
                    with self.lock:
                        self.errors += 1

    def watch_fleet(self) -> None:
        headers = {"Authorization": f"Bearer {TOKENS['operator']}"}
        with httpx.Client(base_url=self.base, timeout=30, headers=headers) as c:
            while not self.stop.wait(0.2 if not self.vacant else 2.0):
                try:
                    fleet = c.get("/v1/vehicles").json()["features"]
                except (httpx.HTTPError, ValueError, KeyError):
                    continue
                self.vacant = [f["properties"]["vehicle_id"] for f in fleet
                               if not f["properties"]["occupied"]]  # fmt: skip

    def routes(self, per_s: float, seed: int) -> None:
        rng = np.random.default_rng(seed)
        headers = {"Authorization": f"Bearer {TOKENS['operator']}"}
        while not self.vacant and not self.stop.wait(0.1):
            pass  # the clock starts once the fleet is known
        start = time.monotonic()
        k = 0
        with httpx.Client(base_url=self.base, timeout=30, headers=headers) as c:
            while not self.stop.is_set():
                time.sleep(max(0.0, start + k / per_s - time.monotonic()))
                k += 1
                vacant = self.vacant
                if not vacant:
                    continue
                vid = vacant[int(rng.integers(len(vacant)))]
                t = time.perf_counter()
                try:
                    r = c.get(f"/v1/vehicles/{vid}/route")
                except httpx.HTTPError:
                    with self.lock:
                        self.errors += 1
                    continue
                dt = time.perf_counter() - t
                with self.lock:
                    self.latency.append(dt)
                    self.codes[r.status_code] = self.codes.get(r.status_code, 0) + 1
                    self.errors += r.status_code >= 500


def _end_with_parent() -> None:
    """Exit this load process once the benchmark's process is gone (stopped with a signal, it
    runs no clean-up): a stray load generator would skew the next run."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _route_process(base: str, args: argparse.Namespace, results: Any) -> None:
    """Fleet watcher and route workers for the warm-up and ``args.seconds``; puts (latencies,
    codes, errors)."""
    _end_with_parent()
    load = Load(base, args.seconds)
    threads = [threading.Thread(target=load.watch_fleet)]
    threads += [threading.Thread(target=load.routes,
                                 args=(args.routes_per_s / args.route_workers, k))
                for k in range(args.route_workers)]  # fmt: skip
    for t in threads:
        t.start()
    time.sleep(args.warmup + args.seconds)
    load.stop.set()
    for t in threads:
        t.join()
    results.put((load.latency, load.codes, load.errors))


def _ingest_process(ingest_base: str, bodies: list[bytes], counts: list[int], per_s: int,
                    seconds: float, results: Any) -> None:  # fmt: skip
    """The telemetry gateway for ``seconds`` at most; puts (latencies, acknowledged, errors).
    A process of its own, as the routes': the benchmark's sampling of memory and metrics
    must not show up as acknowledgement latency."""
    _end_with_parent()
    load = Load(ingest_base, seconds, ingest_base)
    timer = threading.Timer(seconds, load.stop.set)
    timer.daemon = True
    timer.start()
    load.ingest(bodies, counts, per_s)
    results.put((load.ingest_latency, load.acked, load.errors))


def _bodies(n_fixes: int) -> tuple[list[bytes], list[int], int, date, int]:
    """Real fixes of the last days of the data as 1,000-fix request bodies: the first
    ``KEEP_DAYS`` days whole (the warm-up), then ``n_fixes`` more; the first of those days and
    the number of warm-up fixes."""
    s = get_settings()
    first, last = data_days(s)
    days: list[list[dict[str, object]]] = []
    day, total = last, 0

    def warm() -> int:
        return sum(len(rows) for rows in days[:KEEP_DAYS])

    while (len(days) <= KEEP_DAYS or total - warm() < n_fixes) and day >= first:
        rows = [{"vehicle_id": r["vehicle_id"], "ts": r["ts"].isoformat(), "lat": r["lat"],
                 "lon": r["lon"], "occupied": r["occupied"]}
                for r in day_fixes(s, day).to_pylist()]  # fmt: skip
        days.insert(0, rows)
        total += len(rows)
        day -= timedelta(days=1)
    n_warm = warm()
    stream = [r for rows in days for r in rows][: n_warm + n_fixes]
    bodies, counts = [], []
    for k in range(0, len(stream), 1000):
        part = stream[k : k + 1000]
        bodies.append(json.dumps({"fixes": part}).encode())
        counts.append(len(part))
    return bodies, counts, len(stream), day + timedelta(days=1), n_warm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--fixes-per-s", type=int, default=5000)
    ap.add_argument("--routes-per-s", type=float, default=200)
    ap.add_argument("--route-workers", type=int, default=3)
    ap.add_argument(
        "--no-pipeline",
        action="store_true",
        help="no pipeline runs beside the service (to tell their effect)",
    )
    ap.add_argument(
        "--via-api",
        action="store_true",
        help="post fixes to the API port (which forwards them to the ingest process) instead "
        "of the ingest process's own port, as telemetry gateways do",
    )
    args = ap.parse_args()
    console = Console()
    s = get_settings()
    with console.status("preparing fixes …"):
        bodies, counts, n, first_day, n_warm = _bodies(int(args.seconds * args.fixes_per_s))
    args.warmup = n_warm / args.fixes_per_s
    console.print(
        f"warm-up: {KEEP_DAYS} days of data ({n_warm:,} fixes, {args.warmup:.0f} s), "
        f"then {args.seconds:.0f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "var"
        home.mkdir()
        for name in ("warehouse.duckdb", "landing.duckdb"):
            shutil.copy(s.home / name, home / name)
        port, ingest_port = _port(), _port()
        mlflow_db = (s.home / "mlflow.db").resolve()
        # The stream runs 600× faster than the fleet drove, so the data clock would ask for a
        # re-plan every 0.1 s; the service re-plans once a minute of wall time, as in real use.
        env = {**os.environ, "TAXINAV_HOME": str(home),
               "TAXINAV_MLOPS__TRACKING_URI": f"sqlite:///{mlflow_db}",
               "TAXINAV_SERVE__MIN_REFRESH_WALL_S": "60",
               "TAXINAV_SERVE__INGEST_PORT": str(ingest_port),
               "TAXINAV_LOG_LEVEL": "WARNING"}  # fmt: skip
        with console.status("publishing the home's read copy …"):
            publish_reader(s.model_copy(update={"home": home}))
        cmd = [str(Path(sys.executable).parent / "taxinav"), "serve", "--port", str(port),
               "--day", first_day.isoformat()]  # fmt: skip
        log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, proc)
        load = Load(base, args.warmup + args.seconds,
                    None if args.via_api else f"http://127.0.0.1:{ingest_port}")  # fmt: skip
        rss, own = map(list, zip(_rss_mib(proc.pid), strict=True))
        unread: list[float] = []
        # Route requests and fixes come from processes of their own, so neither client's work
        # shows up as the other's latency.
        ctx = multiprocessing.get_context("spawn")
        results, acks = ctx.Queue(), ctx.Queue()
        router = ctx.Process(target=_route_process, args=(base, args, results))
        ingest = ctx.Process(target=_ingest_process,
                             args=(load.ingest_base, bodies, counts, args.fixes_per_s,
                                   args.warmup + args.seconds, acks))  # fmt: skip
        started = time.monotonic()
        pipeline = Pipeline(env, first_day, Path(tmp))
        jobs = threading.Thread(
            target=pipeline.run if not args.no_pipeline else bool, args=(load.stop,)
        )
        router.start()
        ingest.start()
        jobs.start()
        while time.monotonic() - started < args.warmup + args.seconds:
            time.sleep(SAMPLE_S)
            total, alone = _rss_mib(proc.pid)
            rss.append(total)
            own.append(alone)
            if len(rss) % (30 // SAMPLE_S) == 0 and (n_unread := _unread(base)) is not None:
                unread.append(n_unread)
        load.stop.set()
        load.ingest_latency, load.acked, ingest_errors = acks.get(timeout=120)
        ingest.join()
        jobs.join()
        latency, codes, errors = results.get(timeout=120)
        router.join()
        load.latency, load.codes, load.errors = latency, codes, ingest_errors + errors
        elapsed = time.monotonic() - started
        server_side = _server_side(base)
        proc.send_signal(signal.SIGTERM)  # graceful: the last log segment is loaded
        proc.wait(timeout=120)
        log.close()
        landed, stored = (
            duckdb.connect()
            .execute(
                f"""SELECT count(*), count(DISTINCT (vehicle_id, ts))
                FROM read_parquet('{home}/landing/api/fixes-*.parquet')"""
            )
            .fetchall()[0]
        )
    misses = _report(console, args, load, elapsed, n, (rss, own, unread), int(stored),
                     int(landed), pipeline, server_side)  # fmt: skip
    if misses:
        console.print(f"[red]missed: {', '.join(misses)}[/red]")
        sys.exit(1)


class Pipeline:
    """``taxinav pipeline run`` of one day, again and again until stopped."""

    def __init__(self, env: dict[str, str], day: date, folder: Path) -> None:
        self.env, self.day, self.folder = env, day, folder
        self.codes: list[int] = []
        self.seconds: list[float] = []

    def run(self, stop: threading.Event) -> None:
        cmd = [str(Path(sys.executable).parent / "taxinav"), "pipeline", "run", "--date",
               self.day.isoformat()]  # fmt: skip
        while not stop.is_set():
            started = time.monotonic()
            with open(self.folder / f"pipeline-{len(self.codes)}.log", "wb") as log:
                code = subprocess.run(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                      check=False).returncode  # fmt: skip
            self.codes.append(code)
            self.seconds.append(time.monotonic() - started)


_WANTED = {("taxinav_http_request_duration_seconds", "route"): {
               "/v1/telemetry": "ingest request", "/v1/vehicles/{vehicle_id}/route": "route"},
           ("taxinav_ingest_phase_duration_seconds", "phase"): {
               p: f"ingest step {p}" for p in ("validate", "queue", "log")}}  # fmt: skip


def _wanted(family: str, labels: dict[str, str]) -> str | None:
    """What a histogram sample measures, if the report shows it (answered requests only)."""
    for (name, label), names in _WANTED.items():
        if family == name and labels.get("status", "200") == "200":
            return names.get(labels.get(label, ""))
    return None


def _server_side(base: str) -> list[tuple[str, str]]:
    """The server's own view from ``/metrics``: mean and bucket bounds of p50 / p99 of the
    ingest request, its steps, and the route request (the client's view adds the network,
    the client's own scheduling and the body upload)."""
    headers = {"Authorization": f"Bearer {TOKENS['operator']}"}
    try:
        text = httpx.get(f"{base}/metrics", headers=headers, timeout=30).text
    except httpx.HTTPError as exc:
        return [("/metrics", f"unreadable: {exc}")]
    buckets: dict[str, list[tuple[float, float]]] = {}
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            what = _wanted(family.name, sample.labels)
            if what is None:
                continue
            if sample.name.endswith("_bucket"):
                buckets.setdefault(what, []).append((float(sample.labels["le"]), sample.value))
            elif sample.name.endswith("_sum"):
                sums[what] = sample.value
    out = []
    for what, rows in buckets.items():
        rows.sort()
        count = rows[-1][1]
        if not count:
            continue
        q = [next(b for b, c in rows if c >= f * count) * 1000 for f in (0.5, 0.99)]
        out.append((what, f"mean {sums[what] / count * 1000:.1f} ms; p50 ≤ {q[0]:g}, "
                    f"p99 ≤ {q[1]:g} ms ({int(count):,})"))  # fmt: skip
    return out


def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not become ready")


SAMPLE_S = 5  # seconds between RSS samples


def _memory(rss: list[float], warmup_s: float) -> tuple[float, float, float, float]:
    """Server RSS after the first minute (start-up), and at start (the first minute after
    the warm-up), middle and end of the measured part, each the median of a minute of
    samples (a day change's load peak is an instant; the max is reported on its own)."""
    minute = 60 // SAMPLE_S

    def median(lo: int) -> float:
        lo = max(0, min(lo, len(rss) - minute))
        return float(np.median(rss[lo : lo + minute]))

    first = int(warmup_s // SAMPLE_S)
    middle = (first + len(rss)) // 2 - minute // 2
    return median(minute), median(first), median(middle), median(len(rss) - minute)


def _report(console: Console, args: argparse.Namespace, load: Load, elapsed: float, n: int,
            memory: tuple[list[float], list[float], list[float]], stored: int, landed: int,
            pipeline: Pipeline, server_side: list[tuple[str, str]]) -> list[str]:  # fmt: skip
    rss, own, unread = memory
    lat = np.array(load.latency) * 1000
    ing = np.array(load.ingest_latency) * 1000
    early, warm, middle, end = _memory(rss, args.warmup)
    total_s = args.warmup + args.seconds
    table = Table(title=f"taxinav service benchmark ({elapsed:.0f} s, loopback, 2 cores)")
    for h in ("measure", "value", "target"):
        table.add_column(h)
    rows = [
        ("fixes acknowledged", f"{load.acked:,} of {n:,} sent "
         f"({load.acked / total_s:,.0f}/s)", f"{args.fixes_per_s:,}/s"),
        ("ingest request p50 / p99 (1,000 fixes, "
         + ("through the API port)" if args.via_api else "to the ingest port)"),
         f"{np.percentile(ing, 50):.0f} / {np.percentile(ing, 99):.0f} ms" if ing.size else "—",
         ""),
        ("route requests", f"{lat.size:,} ({lat.size / total_s:,.0f}/s); "
         f"status {load.codes}", f"{args.routes_per_s:.0f}/s"),
        ("route latency p50 / p95 / p99",
         " / ".join(f"{np.percentile(lat, q):.1f}" for q in (50, 95, 99)) + " ms"
         if lat.size else "—", "p99 < 50 ms"),
        ("errors (5xx, refused, timeouts)", str(load.errors), "0"),
        ("acknowledged fixes missing / landed twice after stop",
         f"{max(load.acked - stored, 0):,} / {landed - stored:,}", "0 / 0"),
        ("pipeline runs of a day in the same home (exit codes; seconds each)",
         f"{pipeline.codes}; " + ", ".join(f"{x:.0f}" for x in pipeline.seconds), "all 0"),
        (f"server RSS (with its children) after the {args.warmup:.0f}-s warm-up, middle, "
         "end (MiB)", f"{warm:.0f} / {middle:.0f} / {end:.0f}; max {max(rss):.0f}; "
         f"after the first minute {early:.0f}", "each ≤ 1.1 × the smallest"),
        ("server RSS every 30 s (MiB)", " ".join(f"{x:.0f}" for x in rss[:: 30 // SAMPLE_S]),
         ""),
        ("of which its children (the ingest process; the day loader) every 30 s (MiB)",
         " ".join(f"{t - o:.0f}" for t, o in zip(rss[:: 30 // SAMPLE_S], own[:: 30 // SAMPLE_S],
                                                 strict=True)), ""),
        ("batches acknowledged, not yet read by the service, every 30 s",
         " ".join(f"{x:.0f}" for x in unread) or "—", ""),
    ]  # fmt: skip
    rows += [(f"server side: {what}", value, "") for what, value in server_side]
    for r in rows:
        table.add_row(*r)
    console.print(table)
    checks = {
        "route p99": lat.size > 0 and np.percentile(lat, 99) < 50,
        "acknowledgement p99": ing.size > 0 and np.percentile(ing, 99) < 100,
        "errors": load.errors == 0,
        "lost or doubled fixes": load.acked == stored == landed,
        "pipeline runs": args.no_pipeline or (bool(pipeline.codes) and set(pipeline.codes) == {0}),
        "memory": max(warm, middle, end) <= 1.1 * min(warm, middle, end),
    }
    return [name for name, ok in checks.items() if not ok]


if __name__ == "__main__":
    main()
