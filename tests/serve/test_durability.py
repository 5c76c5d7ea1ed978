"""Kill the server (SIGKILL) in the middle of a stream, or the flusher in the middle of a
flush: every acknowledged fix survives, and lands exactly once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from taxinav.mlops.monitoring import Monitor
from taxinav.serve.ingestion import Ingestion
from taxinav.serve.wal import AppendLog
from taxinav.settings import Settings
from tests.serve.conftest import auth
from tests.serve.fakes import RecordingLive, RecordingSink


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TAXINAV_HOME": str(settings.home),
        "TAXINAV_DATA_DIR": str(settings.data_dir),
        "TAXINAV_MLOPS__TRACK": "false",
        "TAXINAV_PIPELINE__FIRST_DAY": "2008-05-17",
        "TAXINAV_SERVE__FLUSH_S": "0.3",
    }
    cmd = [
        str(Path(sys.executable).parent / "taxinav"),
        "serve",
        "--day",
        "2008-05-19",
        "--port",
        str(port),
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not become ready")


def _landed(settings: Settings, kind: str, columns: str) -> list[tuple[object, ...]]:
    """Rows of the API's landing segments (Parquet) of ``kind``."""
    if not any(settings.api_landing_dir.glob(f"{kind}-*.parquet")):
        return []
    con = duckdb.connect()
    try:
        return con.execute(
            f"SELECT {columns} FROM read_parquet('{settings.api_landing_dir}/{kind}-*.parquet')"
        ).fetchall()
    finally:
        con.close()


@pytest.mark.data
@pytest.mark.slow
def test_nothing_acknowledged_is_lost_when_the_server_is_killed(
    service_settings: Settings, tmp_path: Path
) -> None:
    port = _free_port()
    log = tmp_path / "server.log"
    proc = _start(service_settings, port, log)
    acked: set[tuple[str, str]] = set()
    t0 = datetime(2008, 5, 19, 20, tzinfo=UTC)
    url = f"http://127.0.0.1:{port}/v1/telemetry"
    try:
        with httpx.Client(timeout=5, headers=auth("ingest")) as client:
            for k in range(400):
                fixes = [
                    {
                        "vehicle_id": f"k{v}",
                        "ts": (t0 + timedelta(seconds=k)).isoformat(),
                        "lat": 37.79,
                        "lon": -122.41,
                        "occupied": False,
                    }
                    for v in range(50)
                ]
                if k == 150:  # from another thread, so a request is likely in flight
                    threading.Timer(0.02, proc.send_signal, [signal.SIGKILL]).start()
                try:
                    r = client.post(url, json={"fixes": fixes})
                except httpx.HTTPError:
                    break
                if r.status_code == 200:
                    acked.update((f["vehicle_id"], f["ts"]) for f in fixes)
    finally:
        proc.kill()
        proc.wait()
    assert 150 * 50 <= len(acked) < 400 * 50
    proc = _start(service_settings, port, log)  # recovers the log into the landing store
    proc.terminate()
    proc.wait(timeout=60)
    rows = _landed(service_settings, "fixes", "vehicle_id, ts")
    stored = {(v, ts.astimezone(UTC).isoformat()) for v, ts in rows if str(v).startswith("k")}
    assert acked <= stored


# The flusher's own process: it appends BATCHES acknowledged batches (a segment every
# SEGMENT of them), then flushes and is killed at a chosen point of the flush.
BATCHES, SEGMENT, VEHICLES = 12, 3, 20
CHILD = textwrap.dedent("""
    import os, sys, time
    from collections import Counter
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    from taxinav.mlops.monitoring import Monitor
    from taxinav.serve import ingestion
    from taxinav.serve.wal import AppendLog
    from taxinav.settings import Settings

    home, stage = Path(sys.argv[1]), sys.argv[2]
    BATCHES, SEGMENT, VEHICLES = (int(a) for a in sys.argv[3:6])
    settings = Settings(home=home, data_dir=home / "data")
    log = AppendLog(home / "serve" / "log")
    t0 = datetime(2008, 5, 19, 20, tzinfo=UTC)
    for k in range(BATCHES):
        ts = (t0 + timedelta(seconds=k)).isoformat()
        log.append("fixes", [{"vehicle_id": f"f{v}", "ts": ts, "lat": 37.79, "lon": -122.41,
                              "occupied": False} for v in range(VEHICLES)])
        log.append("rides", [{"event_key": f"r{k}", "vehicle_id": "f0", "kind": "pickup",
                              "ts": ts, "lat": 37.79, "lon": -122.41}])
        print("acked", k, flush=True)  # append returned: the client has its answer
        if k % SEGMENT == SEGMENT - 1:
            log.rotate()

    def stop_here(what):
        print("flushing", what, flush=True)
        time.sleep(600)  # SIGKILLed here

    calls = Counter()

    def after(name, func, nth):
        def hooked(*args, **kwargs):
            out = func(*args, **kwargs)
            calls[name] += 1
            if calls[name] == nth:
                stop_here(name)
            return out
        return hooked

    if stage == "mid_write":  # a landing file written, not yet renamed into place
        real_replace = os.replace

        def replace(src, dst):
            if str(dst).endswith(".parquet"):
                calls["replace"] += 1
                if calls["replace"] == 3:
                    stop_here("replace")
            return real_replace(src, dst)

        os.replace = replace
    elif stage == "landed":  # two segments landed, the second not deleted from the log
        ingestion.write_lines = after("write", ingestion.write_lines, 2)
    elif stage == "deleted":  # one segment landed and deleted, the rest not yet
        log.done = after("done", log.done, 1)
    ingestion.Ingestion(settings, log, Counter(), Monitor([])).flush()
    print("flushed without being killed", flush=True)
""")


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["mid_write", "landed", "deleted"])
def test_a_flush_killed_midway_lands_every_acknowledged_fix_exactly_once(
    tmp_path: Path, stage: str
) -> None:
    settings = Settings(home=tmp_path / "var", data_dir=tmp_path / "data")
    log_dir = settings.home / "serve" / "log"
    args = [str(settings.home), stage, str(BATCHES), str(SEGMENT), str(VEHICLES)]
    errors = tmp_path / "child.err"
    acked: list[int] = []
    with (
        errors.open("w") as err,
        subprocess.Popen(
            [sys.executable, "-c", CHILD, *args], stdout=subprocess.PIPE, stderr=err, text=True
        ) as proc,
    ):
        watchdog = threading.Timer(120, proc.kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("acked"):
                    acked.append(int(line.split()[1]))
                elif line.startswith("flushing"):
                    proc.send_signal(signal.SIGKILL)
                    break
            proc.wait()
        finally:
            watchdog.cancel()
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, errors.read_text()[-3000:]
    assert acked == list(range(BATCHES))
    left = sorted(p.name for p in log_dir.glob("*.jsonl"))
    assert 0 < len(left) < BATCHES // SEGMENT  # killed with some of the log flushed

    stats: Counter[str] = Counter()
    sink, live = RecordingSink(), RecordingLive()
    ingestion = Ingestion(settings, AppendLog(log_dir), stats, Monitor([sink]))
    ingestion.recover(live.fixes.extend)
    t0 = datetime(2008, 5, 19, 20, tzinfo=UTC)
    expected = Counter(
        (f"f{v}", (t0 + timedelta(seconds=k)).isoformat()) for k in acked for v in range(VEHICLES)
    )
    rows = _landed(settings, "fixes", "vehicle_id, ts")
    assert Counter((v, ts.astimezone(UTC).isoformat()) for v, ts in rows) == expected
    rides = Counter(key for (key,) in _landed(settings, "rides", "event_key"))
    assert rides == Counter(f"r{k}" for k in acked)
    assert len({(f.vehicle_id, f.ts) for f in live.fixes}) == len(live.fixes)  # replayed once
    # Every old segment landed and deleted; only the new process's next one, empty, is left.
    assert [p.stat().st_size for p in log_dir.glob("*.jsonl")] == [0]
    assert list(settings.api_landing_dir.glob("*.tmp")) == []
    assert sink.alerts == [] and stats["log_corrupt_lines"] == stats["log_torn_tail"] == 0
