"""The telemetry stream's throughput: clients → ingest workers (HTTP) → NATS JetStream → the
landing and live consumers.

    python benchmarks/stream.py [--via http|broker] [--workers 2] [--clients 4]
                                [--seconds 60] [--batch 1000] [--home var]

Starts a `nats-server -js` of its own on a free loopback port, then

- ``--via http`` (the default): ``--workers`` ingest worker processes sharing one TCP port
  (what `taxinav serve --workers K` starts: parse, validate, de-duplicate, publish, answer
  once the broker acknowledged) and ``--clients`` processes, each posting batches of
  ``--batch`` fixes over its own keep-alive connection as fast as they are answered;
- ``--via broker``: ``--clients`` processes publishing straight to the broker (no HTTP, no
  validation: the stream's own ceiling);

and the consumers `taxinav consume landing` and `taxinav consume live` (the live one reads the
road network of ``--home``'s warehouse; it is left out when there is none). The fixes are
positions in San Francisco, half of them vacant, distinct vehicles per client.

Printed: fixes acknowledged per second, a batch's acknowledgement latency (p50 / p99), how
long each consumer took to catch up after the clients stopped, fixes landed and applied
against fixes acknowledged. Targets: ≥ 20,000 fixes/s acknowledged; every acknowledged fix
landed exactly once and applied by the live consumer — exit 1 on a miss. The service's own
process (its live state fed by the workers, the refresh) is not running here.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

TARGET = 20_000  # fixes/s
CHECKPOINT_S = 2.0  # the live consumer's, so that its progress is seen within seconds
LAG_TARGET = 10.0  # s: at the offered rate, each consumer has caught up this soon after it ends


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _batch(k: int, n: int, size: int) -> bytes:
    """Batch ``n`` of client ``k``: ``size`` vehicles a fix each, a new timestamp per batch."""
    ts = (datetime(2008, 5, 20, tzinfo=UTC) + timedelta(seconds=n)).isoformat()
    rng = np.random.default_rng(k * 1_000_003 + n)
    lat = 37.76 + 0.03 * rng.random(size)
    lon = -122.44 + 0.04 * rng.random(size)
    return json.dumps([{"vehicle_id": f"c{k}v{v}", "ts": ts, "lat": round(float(lat[v]), 6),
                        "lon": round(float(lon[v]), 6), "occupied": bool(v % 2)}
                       for v in range(size)]).encode()  # fmt: skip


def _client(k: int, target: str, seconds: float, size: int, every_s: float, out: Any) -> None:
    """One client: posts (``http://…``) or publishes (``nats://…``) a batch every ``every_s``
    seconds (0: as fast as answered) until ``seconds`` pass."""
    lat: list[float] = []
    n, started, sent = 0, time.monotonic(), 0
    if target.startswith("http"):
        import httpx

        from taxinav.settings import DEV_TOKENS

        token = next(t for t, (role, _) in DEV_TOKENS.items() if role == "ingest")
        http = httpx.Client(base_url=target, timeout=60,
                            headers={"Authorization": f"Bearer {token}",
                                     "Content-Type": "application/json"})  # fmt: skip

        def send(raw: bytes) -> int:
            r = http.post("/v1/telemetry", content=b'{"fixes":' + raw + b"}")
            r.raise_for_status()
            return int(r.json()["accepted"])
    else:
        from taxinav.serve.stream import Publisher
        from taxinav.settings import StreamSettings

        publisher = Publisher(StreamSettings(url=target))

        def send(raw: bytes) -> int:
            publisher.append("fixes", raw)
            return size

    while time.monotonic() - started < seconds:
        if every_s:
            time.sleep(max(0.0, started + n * every_s - time.monotonic()))
        raw = _batch(k, n, size)
        t = time.perf_counter()
        sent += send(raw)
        lat.append(time.perf_counter() - t)
        n += 1
    out.put((sent, lat))


def _drain(workers: list[Any], stop: threading.Event) -> None:
    """Take what the workers hand back to the service (not running here) off their queues."""
    while not stop.is_set():
        for w in workers:
            w.received(wait_s=0.05)


def _consumer(kind: str, env: dict[str, str], extra: list[str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "taxinav.cli", "consume", kind, *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _caught_up(done: Any, limit_s: float) -> float:
    """Seconds until ``done()`` (``inf`` if it never is within ``limit_s``)."""
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > limit_s:
            return float("inf")
        time.sleep(0.5)
    return time.monotonic() - started


def _report(args: Any, rate: float, latencies: np.ndarray, got: tuple[int, int], acked: int,
            applied: int | None, lag: dict[str, float],
            live_home: Path | None) -> None:  # fmt: skip
    console = Console(width=110)
    offered = f"{args.rate:,.0f} fixes/s offered" if args.rate else "unpaced"
    path = (f"{args.clients} clients → {args.workers} ingest workers (HTTP) → JetStream"
            if args.via == "http" else f"{args.clients} publishers → JetStream")  # fmt: skip
    title = (f"stream: {path} → {' + '.join(lag)} consumer(s), {args.batch:,} fixes a batch, "
             f"{offered}, {args.seconds:.0f} s")  # fmt: skip
    table = Table(title=title)
    for h in ("measure", "value", "target"):
        table.add_column(h)
    table.add_row("fixes acknowledged per second", f"{rate:,.0f}", f"≥ {TARGET:,}")
    table.add_row("acknowledgement of a batch p50 / p99 (ms)",
                  f"{np.percentile(latencies, 50):.1f} / {np.percentile(latencies, 99):.1f}",
                  "")  # fmt: skip
    table.add_row("landed / distinct / acknowledged",
                  f"{got[0]:,} / {got[1]:,} / {acked:,}", "all, once")  # fmt: skip
    if applied is not None:
        table.add_row("applied by the live consumer", f"{applied:,}", "all")
    for kind, seconds in lag.items():
        table.add_row(f"{kind} consumer caught up after the clients stopped (s)",
                      f"{seconds:.1f}", f"≤ {LAG_TARGET:.0f}" if args.rate else "")  # fmt: skip
    console.print(table)
    if live_home is None:
        console.print(f"(no warehouse in {args.home}: the live consumer was not run)")
    live_missed = applied is not None and applied != acked
    behind = bool(args.rate) and max(lag.values()) > LAG_TARGET
    missed = [w for w, bad in (("rate", rate < TARGET), ("landing", got != (acked, acked)),
                               ("live", live_missed), ("lag", behind)) if bad]  # fmt: skip
    if missed:
        console.print(f"[red]missed:[/red] {', '.join(missed)}")
        sys.exit(1)
    console.print("every stated target met")


def _workers(args: Any, tmp: Path, url: str, stop: threading.Event) -> tuple[list[Any], str]:
    """The ingest workers (none with ``--via broker``) and where the clients send."""
    from taxinav.serve.ingest_process import IngestProcess
    from taxinav.settings import ServeSettings, Settings, StreamSettings

    if args.via != "http":
        return [], url
    port = _port()
    s = Settings(home=tmp / "var", data_dir=tmp / "data", stream=StreamSettings(url=url),
                 serve=ServeSettings(ingest_workers=args.workers, ingest_port=port,
                                     max_batch_items=max(2000, args.batch)))  # fmt: skip
    workers = [IngestProcess(s, k) for k in range(args.workers)]
    for w in workers:
        w.start()
    threading.Thread(target=_drain, args=(workers, stop), daemon=True).start()
    return workers, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--via", choices=("http", "broker"), default="http")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--rate",
        type=float,
        default=TARGET,
        help="fixes/s offered by all clients together (0: as fast as answered)",
    )
    parser.add_argument("--home", type=Path, default=Path("var"))
    args = parser.parse_args()
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(binary).exists():
        sys.exit("nats-server is not installed (Debian package nats-server)")
    from taxinav.serve.landing import landed_fixes
    from taxinav.serve.live_stream import read_snapshot

    console = Console(width=110)
    live_home = args.home if (args.home / "warehouse.duckdb").exists() else None
    with tempfile.TemporaryDirectory() as tmp:
        nats_port = _port()
        broker = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(nats_port), "-sd",
                                   f"{tmp}/js"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(1.0)
        url = f"nats://127.0.0.1:{nats_port}"
        folder, live_dir = Path(tmp) / "landing", Path(tmp) / "live"
        env = {**os.environ, "TAXINAV_HOME": f"{tmp}/var", "TAXINAV_STREAM__URL": url,
               "TAXINAV_SERVE__LANDING": str(folder)}  # fmt: skip
        consumers = {"landing": _consumer("landing", env, [])}
        if live_home is not None:
            consumers["live"] = _consumer("live", {**env, "TAXINAV_HOME": str(live_home)},
                                          ["--folder", str(live_dir), "--checkpoint-s",
                                           str(CHECKPOINT_S)])  # fmt: skip
        stop_drain = threading.Event()
        workers, target = _workers(args, Path(tmp), url, stop_drain)
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        every = args.clients * args.batch / args.rate if args.rate else 0.0
        procs = [ctx.Process(target=_client, args=(k, target, args.seconds, args.batch, every, out))
                 for k in range(args.clients)]  # fmt: skip
        started = time.monotonic()
        for p in procs:
            p.start()
        while any(p.is_alive() for p in procs) and time.monotonic() - started < args.seconds + 30:
            time.sleep(5)
            console.print(f"{time.monotonic() - started:5.0f} s  landed "
                          f"{landed_fixes(folder, 'stream')[0]:,}")  # fmt: skip
        results = [out.get(timeout=120) for _ in procs]
        for p in procs:
            p.join()
        acked = sum(n for n, _ in results)
        latencies = np.concatenate([np.asarray(x) for _, x in results]) * 1000
        rate = acked / args.seconds
        lag = {"landing": _caught_up(lambda: landed_fixes(folder, "stream")[0] >= acked, 300)}
        if "live" in consumers:
            lag["live"] = _caught_up(lambda: (live_dir / "live.json").exists()
                                     and read_snapshot(live_dir).fixes >= acked, 300)  # fmt: skip
        got = landed_fixes(folder, "stream")
        for proc in consumers.values():
            proc.terminate()
        for proc in consumers.values():
            proc.wait(timeout=60)
        applied = read_snapshot(live_dir).fixes if "live" in consumers else None
        stop_drain.set()
        for w in workers:
            w.stop()
        broker.terminate()
        broker.wait(timeout=30)
    _report(args, rate, latencies, got, acked, applied, lag, live_home)


if __name__ == "__main__":
    main()
