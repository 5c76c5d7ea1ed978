"""The service and the pipeline side by side on one home: ``taxinav serve`` starts while a
long batch job reads the home, a replayed evening and night (across midnight, so the service
reloads its day) goes in through the API while the pipeline materialises a partition and
runs a backfill on the same stores. No failed run, no lost or duplicated fix, no 5xx, reads
never wait for a refresh, and SIGTERM stops the service cleanly."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from taxinav.calendar import local_midnight
from taxinav.serve.replay import batches, day_fixes
from taxinav.warehouse import publish_reader
from tests.serve.conftest import DAYS, TOKENS, _settings

pytestmark = [pytest.mark.data, pytest.mark.slow]
TAXINAV = [str(Path(sys.executable).parent / "taxinav")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env(home: Path, data: Path, port: int) -> dict[str, str]:
    return {
        **os.environ, "TAXINAV_HOME": str(home), "TAXINAV_DATA_DIR": str(data),
        "TAXINAV_INGEST__WORKERS": "1", "TAXINAV_MLOPS__TRACK": "false",
        "TAXINAV_PIPELINE__FIRST_DAY": "2008-05-17", "TAXINAV_SERVE__PORT": str(port),
        "TAXINAV_SERVE__MIN_REFRESH_WALL_S": "0.5", "TAXINAV_SERVE__FLUSH_S": "0.5",
    }  # fmt: skip


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([*TAXINAV, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


class Reads:
    """Polls a route and the demand map while fixes go in; keeps every status and latency."""

    def __init__(self, client: httpx.Client, vehicle: str) -> None:
        self.client, self.vehicle = client, vehicle
        self.codes: list[int] = []
        self.latency: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {TOKENS['operator']}"}
        paths = (f"/v1/vehicles/{self.vehicle}/route", "/v1/demand?unit=h3")
        k = 0
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                r = self.client.get(paths[k % 2], headers=headers)
            except httpx.TransportError:  # the server is gone: the test has failed already
                return
            self.latency.append(time.perf_counter() - started)
            self.codes.append(r.status_code)
            k += 1
            time.sleep(0.05)


def test_serve_and_pipeline_share_a_home(served_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "var"
    shutil.copytree(served_home / "var", home, ignore=shutil.ignore_patterns("dagster"))
    settings = _settings(served_home, home)
    publish_reader(settings)
    port = _free_port()
    env = _env(home, served_home / "data", port)
    logs = tmp_path / "logs"
    logs.mkdir()

    # A long batch job reads the home for the whole test.
    reader = subprocess.Popen([sys.executable, "-c", (
        "import time; from taxinav.settings import get_settings; "
        "from taxinav.warehouse import open_reader; con = open_reader(get_settings()); "
        "con.sql('SELECT count(*) FROM telemetry').fetchall(); print('holding', flush=True); "
        "time.sleep(600)")], env=env, stdout=subprocess.PIPE)  # fmt: skip
    assert reader.stdout is not None and reader.stdout.readline().strip() == b"holding"
    server = _start(["serve", "--day", DAYS[1].isoformat()], env, logs / "serve.log")
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=base, timeout=30)
    pipeline: list[subprocess.Popen[bytes]] = []
    reads = Reads(client, "")
    try:
        _wait_ready(client, server, logs / "serve.log")
        pipeline += [
            _start(["pipeline", "run", "--date", DAYS[1].isoformat()], env,
                   logs / "materialize.log"),
            _start(["pipeline", "backfill", "--start", DAYS[0].isoformat(), "--end",
                    DAYS[-1].isoformat()], env, logs / "backfill.log"),
        ]  # fmt: skip
        fixes = _evening_and_night(settings)
        reads.vehicle = str(fixes[0]["vehicle_id"])
        poller = threading.Thread(target=reads.run, daemon=True)
        poller.start()
        # Fixes go in while the pipeline runs, spread over about a minute (and on after it).
        acknowledged, codes = _post(client, fixes, pace_s=60.0)
        for p, name in zip(pipeline, ("materialize", "backfill"), strict=True):
            assert p.wait(timeout=900) == 0, (logs / f"{name}.log").read_text()[-3000:]
        reads.stop.set()
        poller.join(timeout=30)
        refresh_s = _refresh_seconds(client)
    finally:
        reads.stop.set()
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
        for p in (reader, *pipeline):
            p.kill()
            p.wait()
        if reader.stdout is not None:
            reader.stdout.close()
        client.close()
    served = (logs / "serve.log").read_text()
    # Uvicorn shuts down, then re-raises the signal: the conventional exit of a SIGTERM.
    assert code in (0, -signal.SIGTERM), served[-3000:]
    assert "Application shutdown complete" in served and "Traceback" not in served, served[-3000:]
    assert f"day {DAYS[2].isoformat()} loaded" in served  # the day changed under the service
    assert set(codes) == {200} and all(c < 500 for c in reads.codes)
    assert len(reads.latency) > 20
    assert max(reads.latency) <= max(refresh_s, 1.0) + 1.0
    # Every acknowledged fix landed once; the pipeline reads them into its warehouse.
    con = duckdb.connect()
    landed, distinct = con.execute(
        f"""SELECT count(*), count(DISTINCT (vehicle_id, ts))
            FROM read_parquet('{home}/landing/api/fixes-*.parquet')"""
    ).fetchall()[0]
    assert landed == distinct == acknowledged


def _wait_ready(client: httpx.Client, server: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(600):
        if server.poll() is not None:
            pytest.fail(f"the service exited: {log.read_text()[-3000:]}")
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("the service never became ready")


def _evening_and_night(settings: Any) -> list[dict[str, Any]]:
    """The fleet's fixes from 20:00 of the middle day to 04:00 of the next, as posted."""
    start = local_midnight(DAYS[1], settings.tz) + timedelta(hours=20)
    end = start + timedelta(hours=8)
    out = []
    for day in DAYS[1:]:
        for _, batch in batches(day_fixes(settings, day), 60.0):
            out += [f for f in batch if start <= datetime.fromisoformat(f["ts"]) < end]
    assert len(out) > 1000
    return out


def _post(client: httpx.Client, fixes: list[dict[str, Any]],
          pace_s: float) -> tuple[int, list[int]]:  # fmt: skip
    headers = {"Authorization": f"Bearer {TOKENS['ingest']}"}
    accepted, codes = 0, []
    step = 100
    pause = pace_s / max(len(fixes) // step, 1)
    for k in range(0, len(fixes), step):
        r = client.post("/v1/telemetry", json={"fixes": fixes[k : k + step]}, headers=headers)
        codes.append(r.status_code)
        accepted += r.json()["accepted"]
        time.sleep(pause)
    return accepted, codes


def _refresh_seconds(client: httpx.Client) -> float:
    headers = {"Authorization": f"Bearer {TOKENS['operator']}"}
    text = client.get("/metrics", headers=headers).text
    line = next(x for x in text.splitlines() if x.startswith("taxinav_refresh_duration_seconds"))
    return float(line.split()[-1])
