"""Kill the server (SIGKILL) in the middle of a stream: every acknowledged fix survives."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from taxinav.settings import Settings
from tests.serve.conftest import auth

pytestmark = [pytest.mark.data, pytest.mark.slow]


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
    from taxinav.warehouse import connect

    con = connect(service_settings.landing_path, read_only=True)
    rows = con.execute("SELECT vehicle_id, ts FROM telemetry WHERE vehicle_id LIKE 'k%'")
    stored = {(v, ts.astimezone(UTC).isoformat()) for v, ts in rows.fetchall()}
    con.close()
    assert acked <= stored
