"""The telemetry stream's throughput: publishers → NATS JetStream → the landing consumer.

    python benchmarks/stream.py [--publishers 2] [--seconds 60] [--batch 1000]

Starts a `nats-server -js` of its own on a free loopback port, `--publishers` processes that
each publish batches of `--batch` fixes as fast as the broker acknowledges them (what an
ingest worker does after validating a request: `serve.stream.Publisher.append`), and one
`taxinav consume landing` process. Printed: fixes acknowledged per second, the
acknowledgement latency of a batch (p50 / p99), the consumer's lag behind the publishers
(seconds to catch up after they stopped) and fixes landed against fixes acknowledged.
Targets: ≥ 20,000 fixes/s acknowledged, every acknowledged fix landed exactly once — exit 1
on a miss.
Not included: HTTP and validation in the ingest workers (`benchmarks/service.py` measures
those).
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
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from taxinav.serve.landing import landed_fixes
from taxinav.serve.stream import Publisher
from taxinav.settings import StreamSettings

TARGET = 20_000  # fixes/s


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _publish(k: int, url: str, seconds: float, batch: int, out: Any) -> None:
    """One publisher: distinct vehicles per process, a new timestamp per batch."""
    publisher = Publisher(StreamSettings(url=url))
    t0 = datetime(2008, 5, 20, tzinfo=UTC)
    lat: list[float] = []
    n, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        ts = (t0 + timedelta(seconds=n)).isoformat()
        raw = json.dumps([{"vehicle_id": f"p{k}v{v}", "ts": ts, "lat": 37.78, "lon": -122.41,
                           "occupied": False} for v in range(batch)]).encode()  # fmt: skip
        t = time.perf_counter()
        publisher.append("fixes", raw)
        lat.append(time.perf_counter() - t)
        n += 1
    publisher.close()
    out.put((n * batch, lat))


def _landed(folder: Path) -> tuple[int, int]:
    return landed_fixes(folder, "stream")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(binary).exists():
        sys.exit("nats-server is not installed (Debian package nats-server)")
    console = Console(width=110)
    with tempfile.TemporaryDirectory() as tmp:
        port = _port()
        broker = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd",
                                   f"{tmp}/js"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(1.0)
        url = f"nats://127.0.0.1:{port}"
        folder = Path(tmp) / "landing"
        env = {**os.environ, "TAXINAV_HOME": f"{tmp}/var", "TAXINAV_STREAM__URL": url,
               "TAXINAV_SERVE__LANDING": str(folder)}  # fmt: skip
        consumer = subprocess.Popen([sys.executable, "-m", "taxinav.cli", "consume", "landing"],
                                    env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)  # fmt: skip
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        procs = [ctx.Process(target=_publish, args=(k, url, args.seconds, args.batch, out))
                 for k in range(args.publishers)]  # fmt: skip
        started = time.monotonic()
        for p in procs:
            p.start()
        while any(p.is_alive() for p in procs) and time.monotonic() - started < args.seconds + 30:
            time.sleep(5)
            elapsed = time.monotonic() - started
            console.print(f"{elapsed:5.0f} s  landed {_landed(folder)[0]:,}")
        results = [out.get(timeout=60) for _ in procs]
        for p in procs:
            p.join()
        acked = sum(n for n, _ in results)
        latencies = np.concatenate([np.asarray(x) for _, x in results]) * 1000
        rate = acked / args.seconds
        stopped = time.monotonic()
        while (got := _landed(folder))[0] < acked and time.monotonic() < stopped + 120:
            time.sleep(1)
        caught_up = time.monotonic() - stopped
        consumer.terminate()
        consumer.wait(timeout=30)
        broker.terminate()
        broker.wait(timeout=30)
    table = Table(title=f"stream: {args.publishers} publishers → JetStream → landing consumer")
    for h in ("measure", "value", "target"):
        table.add_column(h)
    table.add_row("fixes acknowledged per second", f"{rate:,.0f}", f"≥ {TARGET:,}")
    table.add_row("acknowledgement of a batch p50 / p99 (ms)",
                  f"{np.percentile(latencies, 50):.1f} / {np.percentile(latencies, 99):.1f}",
                  "")  # fmt: skip
    table.add_row("landed / distinct / acknowledged",
                  f"{got[0]:,} / {got[1]:,} / {acked:,}", "all, once")  # fmt: skip
    table.add_row("consumer caught up after the publishers stopped (s)", f"{caught_up:.1f}", "")
    console.print(table)
    missed = [w for w, bad in (("rate", rate < TARGET),
                               ("landing", got != (acked, acked))) if bad]  # fmt: skip
    if missed:
        console.print(f"[red]missed:[/red] {', '.join(missed)}")
        sys.exit(1)
    console.print("every stated target met")


if __name__ == "__main__":
    main()
