"""The ingesting child process, through the service's forwarding endpoints: it answers as the
in-process API would, hands every accepted batch to the service once, lands what it
acknowledged when stopped, and a new child recovers a killed one's log."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from taxinav.serve.api import deps, ingest
from taxinav.serve.ingest_process import IngestProcess, Received, parse_fixes, parse_pickups
from taxinav.settings import ServeSettings, Settings
from tests.serve.conftest import auth

T0 = datetime(2008, 5, 19, 20, tzinfo=UTC)


def _settings(tmp_path: Path) -> Settings:
    # Landing only when stopped: what a killed child leaves stays in its log.
    return Settings(home=tmp_path / "var", data_dir=tmp_path / "data",
                    serve=ServeSettings(flush_s=3600))  # fmt: skip


def _fixes(k: int, vehicles: int = 3) -> list[dict[str, Any]]:
    ts = (T0 + timedelta(seconds=k)).isoformat()
    return [{"vehicle_id": f"v{v}", "ts": ts, "lat": 37.79, "lon": -122.41, "occupied": False}
            for v in range(vehicles)]  # fmt: skip


def _client(proc: IngestProcess) -> TestClient:
    app = FastAPI()
    deps.install_auth_errors(app)
    app.include_router(ingest.forwarding_router(proc))
    return TestClient(app)


def _landed(settings: Settings) -> list[tuple[str, datetime]]:
    files = f"{settings.api_landing_dir}/fixes-*.parquet"
    if not any(settings.api_landing_dir.glob("fixes-*.parquet")):
        return []
    rows = duckdb.connect().execute(f"SELECT vehicle_id, ts FROM read_parquet('{files}')")
    return [(str(v), ts.astimezone(UTC)) for v, ts in rows.fetchall()]


def _drain(proc: IngestProcess, want: int) -> list[Received]:
    got: list[Received] = []
    for _ in range(50):
        got += proc.received(wait_s=0.1)
        if sum(len(parse_fixes(raw)) for kind, raw in got if kind == "fixes") >= want:
            break
    return got


@pytest.fixture
def proc(tmp_path: Path) -> Iterator[IngestProcess]:
    p = IngestProcess(_settings(tmp_path))
    p.start()
    yield p
    p.stop()


def test_answers_as_the_api_and_hands_over_each_accepted_fix_once(
    proc: IngestProcess, tmp_path: Path
) -> None:
    client = _client(proc)
    first = client.post("/v1/telemetry", json={"fixes": _fixes(0)}, headers=auth("ingest"))
    assert first.status_code == 200 and first.json()["accepted"] == 3
    again = client.post("/v1/telemetry", json={"fixes": _fixes(0)}, headers=auth("ingest"))
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 3)
    # A driver's token may not ingest; no token is a challenge; a bad item is named.
    assert client.post("/v1/telemetry", json={"fixes": []}, headers=auth("driver")).status_code \
        == 403  # fmt: skip
    anonymous = client.post("/v1/telemetry", json={"fixes": []})
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    bad = [*_fixes(1, 1), {**_fixes(1, 1)[0], "vehicle_id": "v9", "lat": "north"}]
    mixed = client.post("/v1/telemetry", json={"fixes": bad}, headers=auth("ingest"))
    assert mixed.status_code == 422 and mixed.json()["accepted"] == 1
    assert [(r["index"], r["field"]) for r in mixed.json()["rejected"]] == [(1, "lat")]
    pickup = {"event_key": "p1", "vehicle_id": "v1", "kind": "pickup", "lat": 37.79,
              "lon": -122.41, "ts": T0.isoformat()}  # fmt: skip
    rides = client.post("/v1/rides", json={"events": [pickup]}, headers=auth("ingest"))
    assert rides.status_code == 200 and rides.json()["accepted"] == 1

    got = _drain(proc, want=4)
    fixes = [(f.vehicle_id, f.ts) for kind, raw in got if kind == "fixes"
             for f in parse_fixes(raw)]  # fmt: skip
    expected = [(f"v{v}", T0) for v in range(3)] + [("v0", T0 + timedelta(seconds=1))]
    assert sorted(fixes) == sorted(expected)
    assert [e.event_key for kind, raw in got if kind == "pickups"
            for e in parse_pickups(raw)] == ["p1"]  # fmt: skip
    status = proc.status()
    assert status["stats"]["fixes_accepted"] == 4 and status["stats"]["fixes_repeated"] == 3
    assert status["stats"]["fixes_rejected"] == 1
    # A spawned interpreter starts at Python's 5 ms; the child takes the service's setting.
    assert status["switch_interval_ms"] == pytest.approx(
        _settings(tmp_path).serve.switch_interval_ms
    )
    assert {tuple(labels) for labels, _ in status["phases"]} == {("validate",), ("queue",),
                                                                 ("log",)}  # fmt: skip
    proc.stop()
    assert sorted(_landed(_settings(tmp_path))) == sorted(expected)


def test_a_killed_childs_acknowledged_fixes_are_recovered_by_the_next(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = IngestProcess(settings)
    first.start()
    client = _client(first)
    for k in range(5):
        assert client.post("/v1/telemetry", json={"fixes": _fixes(k)},
                           headers=auth("ingest")).status_code == 200  # fmt: skip
    first.proc.kill()
    first.proc.join()
    down = client.post("/v1/telemetry", json={"fixes": _fixes(9)}, headers=auth("ingest"))
    assert down.status_code == 503 and down.headers["retry-after"] == "1"
    first.stop()
    assert _landed(settings) == []  # nothing flushed: all of it is in the log

    second = IngestProcess(settings)
    second.start()
    try:
        recovered = [f for kind, raw in _drain(second, want=15) if kind == "fixes"
                     for f in parse_fixes(raw)]  # fmt: skip
        assert len(recovered) == 15
        # … and they are repeats now.
        again = _client(second).post("/v1/telemetry", json={"fixes": _fixes(4)},
                                     headers=auth("ingest"))  # fmt: skip
        assert again.json()["duplicates"] == 3
    finally:
        second.stop()
    assert len(_landed(settings)) == 15 == len(set(_landed(settings)))


def test_gateways_can_post_to_the_ingest_port_directly(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    settings = _settings(tmp_path)
    settings = settings.model_copy(
        update={"serve": settings.serve.model_copy(update={"ingest_port": port})}
    )
    proc = IngestProcess(settings)
    proc.start()
    try:
        url = f"http://127.0.0.1:{port}/v1/telemetry"
        r = httpx.post(url, json={"fixes": _fixes(0)}, headers=auth("ingest"))
        assert r.status_code == 200 and r.json()["accepted"] == 3
        assert httpx.post(url, json={"fixes": _fixes(0)}).status_code == 401
        got = _drain(proc, want=3)
        vehicles = sorted(f.vehicle_id for _, raw in got for f in parse_fixes(raw))
        assert vehicles == ["v0", "v1", "v2"]
    finally:
        proc.stop()


def test_two_workers_share_the_ingest_port_and_land_apart(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(home=tmp_path / "var", data_dir=tmp_path / "data",
                        serve=ServeSettings(flush_s=3600, ingest_workers=2,
                                            ingest_port=port))  # fmt: skip
    workers = [IngestProcess(settings, k) for k in range(2)]
    for w in workers:
        w.start()
    try:
        for k in range(40):  # a connection each: the kernel picks a worker per connection
            r = httpx.post(f"http://127.0.0.1:{port}/v1/telemetry", json={"fixes": _fixes(k)},
                           headers=auth("ingest"), timeout=30)  # fmt: skip
            assert r.status_code == 200 and r.json()["accepted"] == 3, r.text
        accepted = [w.status()["stats"]["fixes_accepted"] for w in workers]
    finally:
        for w in workers:
            w.stop()
    assert sum(accepted) == 120 and min(accepted) > 0, accepted
    # Each worker kept its own log and landed under its own source: nothing twice.
    assert sorted(_landed(settings)) == sorted(
        (f"v{v}", T0 + timedelta(seconds=k)) for k in range(40) for v in range(3)
    )
    files = f"read_parquet('{settings.api_landing_dir}/fixes-*.parquet')"
    sources = duckdb.connect().execute(f"SELECT DISTINCT source FROM {files}").fetchall()
    assert sorted(s for (s,) in sources) == ["api-w0", "api-w1"]


def test_batches_not_yet_read_by_the_service_are_counted(proc: IngestProcess) -> None:
    client = _client(proc)
    for k in range(3):  # two new batches and a repeat, which is not handed over
        body = {"fixes": _fixes(min(k, 1))}
        assert client.post("/v1/telemetry", json=body, headers=auth("ingest")).status_code == 200
    assert proc.unread(proc.status()) == 2
    _drain(proc, want=6)
    assert proc.unread(proc.status()) == 0
    assert proc.status()["rss_bytes"] > 10 * 2**20  # an interpreter with the API loaded
