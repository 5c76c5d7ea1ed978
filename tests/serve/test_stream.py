"""The telemetry stream on a real NATS JetStream server: batches published (some twice),
the landing consumer killed with SIGKILL mid-stream and restarted — every published fix
landed exactly once; and the ingest process acknowledging only what the broker took."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from taxinav.serve.api import deps, ingest
from taxinav.serve.landing import landed_fixes
from taxinav.serve.stream import Publisher, messages
from taxinav.settings import ServeSettings, Settings, StreamSettings
from tests.serve.conftest import auth

T0 = datetime(2008, 5, 20, 8, 0, tzinfo=UTC)


def _fixes(batch: int, vehicles: int = 50) -> list[dict[str, object]]:
    ts = (T0 + timedelta(seconds=30 * batch)).isoformat()
    return [{"vehicle_id": f"v{v}", "ts": ts, "lat": 37.78 + v * 1e-4, "lon": -122.41,
             "occupied": bool(v % 2)} for v in range(vehicles)]  # fmt: skip


def test_a_batch_is_split_by_a_stable_hash_of_the_vehicle_keeping_its_order() -> None:
    s = StreamSettings(partitions=3, subject="t")
    raw = b'[{"vehicle_id":"a","k":1},{"vehicle_id":"b","k":2},{"vehicle_id":"a","k":3}]'
    parts = messages(s, "fixes", raw)
    a, b = zlib.crc32(b"a") % 3, zlib.crc32(b"b") % 3  # crc32: the same in every process
    assert parts[f"t.fixes.{a}"].startswith(b'[{"vehicle_id":"a","k":1},{"vehicle_id":"a","k":3}')
    assert (f"t.fixes.{b}" in parts) == (a != b)
    assert messages(s, "rides", b"[]") == {"t.rides.0": b"[]"}


def _landed(folder: Path) -> tuple[int, int]:
    """(fixes in the stream's landing files, distinct (vehicle, time) among them)."""
    return landed_fixes(folder, "stream")


def _consumer(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "taxinav.cli", "consume", "landing"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def _wait(folder: Path, at_least: int, seconds: float = 60) -> tuple[int, int]:
    deadline = time.monotonic() + seconds
    while (got := _landed(folder))[0] < at_least and time.monotonic() < deadline:
        time.sleep(0.2)
    return got


def test_every_published_fix_lands_once_through_a_killed_consumer(
    nats_url: str, tmp_path: Path
) -> None:
    stream = StreamSettings(url=nats_url, name="KILLED", subject="killed", partitions=4)
    folder = tmp_path / "landing"
    env = {**os.environ, "TAXINAV_HOME": str(tmp_path / "var"), "TAXINAV_STREAM__URL": nats_url,
           "TAXINAV_STREAM__NAME": stream.name, "TAXINAV_STREAM__SUBJECT": stream.subject,
           "TAXINAV_SERVE__LANDING": str(folder)}  # fmt: skip
    publisher = Publisher(stream)
    batches = [json.dumps(_fixes(k)).encode() for k in range(400)]
    consumer = _consumer(env)
    try:
        for k, raw in enumerate(batches):
            publisher.append("fixes", raw)
            if k % 10 == 0:  # a client's retry: the same batch again, dropped by the broker
                publisher.append("fixes", raw)
            if k == 150:  # mid-stream: killed without a chance to finish anything
                _wait(folder, 1)
                consumer.send_signal(signal.SIGKILL)
                consumer.wait()
        consumer = _consumer(env)
        total, distinct = _wait(folder, 400 * 50, seconds=120)
    finally:
        consumer.terminate()
        consumer.wait(timeout=30)
        publisher.close()
    assert (total, distinct) == (400 * 50, 400 * 50)


def test_the_ingest_process_acknowledges_what_the_broker_took(
    nats_url: str, tmp_path: Path
) -> None:
    from taxinav.serve.ingest_process import IngestProcess

    stream = StreamSettings(url=nats_url, name="API", subject="api", partitions=2)
    folder = tmp_path / "landing"
    settings = Settings(home=tmp_path / "var", data_dir=tmp_path / "data", stream=stream,
                        serve=ServeSettings(landing=folder))  # fmt: skip
    proc = IngestProcess(settings)
    proc.start()
    try:
        app = FastAPI()
        deps.install_auth_errors(app)
        app.include_router(ingest.forwarding_router(proc))
        client = TestClient(app)
        for k in range(5):
            r = client.post("/v1/telemetry", json={"fixes": _fixes(k, 20)},
                            headers=auth("ingest"))  # fmt: skip
            assert r.status_code == 200 and r.json()["accepted"] == 20, r.text
        env = {**os.environ, "TAXINAV_HOME": str(tmp_path / "var"),
               "TAXINAV_STREAM__URL": nats_url, "TAXINAV_STREAM__NAME": stream.name,
               "TAXINAV_STREAM__SUBJECT": stream.subject,
               "TAXINAV_SERVE__LANDING": str(folder)}  # fmt: skip
        consumer = _consumer(env)
        try:
            assert _wait(folder, 100) == (100, 100)
        finally:
            consumer.terminate()
            consumer.wait(timeout=30)
    finally:
        proc.stop()
    # Nothing went through the append log: the stream is where the fixes were made durable.
    assert not any((tmp_path / "var" / "landing" / "api").glob("fixes-0*.parquet"))
