"""A replayed hour through two ingest workers behind one port and NATS JetStream, the landing
and live consumers each killed with SIGKILL mid-stream and restarted, some batches posted twice:
every acknowledged fix landed exactly once, and the live consumer's counts equal the batch
derivation's (trips, then counts per H3 cell) over the same fixes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa
import pytest

from taxinav import ingest
from taxinav.calendar import Day
from taxinav.features.counts import counts_of, day_events
from taxinav.roads import read_graph
from taxinav.serve.ingest_process import IngestProcess
from taxinav.serve.landing import landed_fixes
from taxinav.serve.live_stream import read_snapshot
from taxinav.serve.replay import batches, day_fixes
from taxinav.settings import ServeSettings, Settings, StreamSettings
from taxinav.warehouse import connect
from tests.serve.conftest import DAYS, auth
from tests.serve.test_durability import _free_port

pytestmark = [pytest.mark.data, pytest.mark.slow]
HOURS = (7, 9)  # local hours of the middle day replayed


def _consumer(kind: str, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    """A consumer process; its output appended to ``logs/<kind>.log``."""
    extra = ["--checkpoint-s", "0.5"] if kind == "live" else []
    with open(logs / f"{kind}.log", "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "taxinav.cli", "consume", kind, *extra],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _until(check: Any, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.2)


def _batch_counts(settings: Settings, fixes: pa.Table, d: Day) -> dict[tuple[str, Any], Any]:
    """Pickups and vacant vehicles per H3 cell and slot by the daily pipeline's derivation."""
    con = connect(":memory:")
    con.register("landed", fixes)
    con.execute("INSERT INTO telemetry SELECT vehicle_id, ts, lat, lon, occupied FROM landed")
    ingest.derive_trips_and_spells(con, settings.ingest.gap_limit_min)
    store = connect(settings.warehouse_path, read_only=True)
    graph = read_graph(store)
    store.close()
    rows = counts_of(day_events(con, graph, settings.forecast.h3_resolution, d), 600)
    return {(r["unit_id"], r["slot_start"]): (r["pickups"], r["vacant"])
            for r in rows.to_pylist() if r["unit_type"] == "h3"}  # fmt: skip


def test_an_hour_through_two_workers_lands_once_and_the_live_counts_are_the_batch_ones(
    service_settings: Settings, nats_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    stream = StreamSettings(url=nats_url, name="LIVEHOUR", subject="livehour", partitions=4)
    folder = tmp_path / "landing"
    settings = service_settings.model_copy(update={
        "stream": stream,
        "serve": ServeSettings(flush_s=3600, ingest_workers=2, ingest_port=port, landing=folder),
    })  # fmt: skip
    env = {**os.environ, "TAXINAV_HOME": str(settings.home),
           "TAXINAV_DATA_DIR": str(settings.data_dir), "TAXINAV_STREAM__URL": nats_url,
           "TAXINAV_STREAM__NAME": stream.name, "TAXINAV_STREAM__SUBJECT": stream.subject,
           "TAXINAV_STREAM__PARTITIONS": "4", "TAXINAV_SERVE__LANDING": str(folder)}  # fmt: skip
    d, live_dir = Day.of(DAYS[1], settings.tz), settings.home / "live"
    hour = [(t0, b) for t0, b in batches(day_fixes(settings, DAYS[1]), 60)
            if HOURS[0] <= t0.astimezone(settings.tz).hour < HOURS[1]]  # fmt: skip
    sent = {(f["vehicle_id"], f["ts"]) for _, b in hour for f in b}
    assert len(sent) > 500
    workers = [IngestProcess(settings, k) for k in range(2)]
    for w in workers:
        w.start()
    consumers = {k: _consumer(k, env, tmp_path) for k in ("landing", "live")}
    try:
        for k, (_, batch) in enumerate(hour):
            for _ in range(2 if k % 5 == 0 else 1):  # every fifth batch twice: a client's retry
                r = httpx.post(f"http://127.0.0.1:{port}/v1/telemetry", json={"fixes": batch},
                               headers=auth("ingest"), timeout=30)  # fmt: skip
                assert r.status_code == 200, r.text
            if k == len(hour) // 2:  # mid-stream, once each has done some work
                _until(lambda: landed_fixes(folder, "stream")[0] > 0
                       and (live_dir / "live.json").exists())  # fmt: skip
                for kind, proc in consumers.items():
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    consumers[kind] = _consumer(kind, env, tmp_path)
        accepted = [w.status()["stats"]["fixes_accepted"] for w in workers]
        _until(lambda: landed_fixes(folder, "stream")[0] >= len(sent))
        _until(lambda: (live_dir / "live.json").exists()
               and read_snapshot(live_dir).fixes >= len(sent))  # fmt: skip
    finally:
        for proc in consumers.values():
            proc.send_signal(signal.SIGTERM)
        for proc in consumers.values():
            proc.wait(timeout=30)
        for w in workers:
            w.stop()
    assert min(accepted) > 0  # both workers acknowledged
    assert landed_fixes(folder, "stream") == (len(sent), len(sent))
    files = f"read_parquet('{folder}/fixes-stream-*')"
    landed = (
        duckdb.connect()
        .sql(f"SELECT vehicle_id, ts, lat, lon, occupied FROM {files}")
        .to_arrow_table()
    )
    batch = _batch_counts(settings, landed, d)
    snap = read_snapshot(live_dir).counts["h3"].to_pylist()
    live = {(r["unit_id"], r["slot_start"]): (r["pickups"], r["vacant"]) for r in snap}
    assert sum(p for p, _ in batch.values()) >= 3
    assert live == batch
