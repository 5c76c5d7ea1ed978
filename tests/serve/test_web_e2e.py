"""Both map views in headless Chromium against a running server: the road network, the
demand heat, the fleet and a driver's route are drawn; screenshots go to var/reports/ui/. The
server runs in a folder without web/node_modules: the map's library comes from the package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from taxinav.serve.replay import batches, day_fixes
from taxinav.settings import Settings, TokenSpec, token_hash
from tests.serve.conftest import CABS, DAYS, auth
from tests.serve.test_durability import _free_port, _start

pytestmark = [pytest.mark.data, pytest.mark.slow]
WEB = Path(__file__).resolve().parents[2] / "web"
SHOTS = Path(__file__).resolve().parents[2] / "var" / "reports" / "ui"


def _chromium() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium")


@pytest.fixture
def browser_ready() -> str:
    chromium = _chromium()
    if chromium is None or not (WEB / "node_modules" / "playwright-core").is_dir():
        if os.environ.get("TAXINAV_REQUIRE_BROWSER"):
            pytest.fail("Chromium and web/node_modules are required (make test installs them)")
        pytest.skip("no Chromium or no web/node_modules (run `make test`)")
    return chromium


def test_operator_and_driver_views_draw_their_layers(
    service_settings: Settings, tmp_path: Path, browser_ready: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    drivers = {cab.split("_")[1].split(".")[0]: f"driver-secret-{k}" for k, cab in enumerate(CABS)}
    # Taxis of the driver states: carrying a passenger, away from the mapped roads, unseen.
    extra = {"occ1": "driver-secret-occ", "far1": "driver-secret-far", "new1": "driver-secret-new"}
    tokens = [t.model_dump() for t in service_settings.serve.tokens if t.role != "driver"]
    tokens += [
        TokenSpec(
            name=f"driver-{v}", role="driver", sha256=token_hash(s), vehicle_id=v
        ).model_dump()
        for v, s in {**drivers, **extra}.items()
    ]
    monkeypatch.setenv("TAXINAV_SERVE__TOKENS", json.dumps(tokens))
    elsewhere = tmp_path / "elsewhere"  # the server's working folder: no web/ in it
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    port = _free_port()
    proc = _start(service_settings, port, tmp_path / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        vehicle = _feed_until_routed(service_settings, base, drivers)
        outside = _place_state_taxis(base)
        states = [{"name": n, "vehicle": v, "token": extra[v], "state": st} for n, v, st in
                  (("occupied", "occ1", "occupied"), ("away", "far1", "off_network"),
                   ("unseen", "new1", "no_data"))]  # fmt: skip
        SHOTS.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            [
                "node",
                str(WEB / "e2e.mjs"),
                base,
                "dev-operator-token",
                drivers[vehicle],
                vehicle,
                str(SHOTS),
                json.dumps(states),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=WEB,
            env={**os.environ, "CHROMIUM": browser_ready},
        )
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == []  # Leaflet loaded: a missing `L` would be a page error
    assert result["operator"]["drawn"]["network"] > 1000
    assert result["operator"]["drawn"]["heat"] == 42
    assert result["driver"]["drawn"]["route"] >= 2  # route steps and the taxi itself
    panel = result["driver"]["panel"]
    assert "Chance of a passenger within 5 min" in panel and "10 min" in panel
    assert "Follow the coloured route" in panel and "position as of" in panel
    assert "waiting for data" not in panel
    operator_panel = result["operator"]["panel"]
    assert "data as of" in operator_panel and "fixes last received" in operator_panel
    assert f"; {outside} outside the mapped area" in operator_panel and outside >= 1  # far1
    assert result["operator_road"]["drawn"] > 0
    words = {k: result[f"driver_{k}"]["words"] for k in ("occupied", "away", "unseen")}
    assert words["occupied"].startswith("Carrying a passenger — no route needed")
    assert words["away"].startswith("Your taxi is outside the mapped area")
    assert words["unseen"] == "Waiting for your taxi's first position…"
    assert all("{" not in w and "409" not in w for w in words.values())  # no raw API errors
    for name in ("operator", "driver", "operator-road", "driver-occupied", "driver-away"):
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000


def _place_state_taxis(base: str) -> int:
    """At the data's time: occ1 carrying a passenger downtown, far1 vacant in Oakland (off
    the mapped area); new1 sends nothing. The count of taxis outside the mapped area."""
    with httpx.Client(base_url=base, timeout=30) as client:
        fleet = client.get("/v1/vehicles", headers=auth("operator")).json()
        clock = fleet["properties"]["clock"]
        fixes = [{"vehicle_id": "occ1", "ts": clock, "lat": 37.7880, "lon": -122.4075,
                  "occupied": True},
                 {"vehicle_id": "far1", "ts": clock, "lat": 37.8044, "lon": -122.2712,
                  "occupied": False}]  # fmt: skip
        r = client.post("/v1/telemetry", json={"fixes": fixes}, headers=auth("ingest"))
        assert r.status_code == 200 and r.json()["accepted"] == 2, r.text
        time.sleep(1.0)  # the service applies accepted fixes to its live state behind the ack
        fleet = client.get("/v1/vehicles", headers=auth("operator")).json()
    where = {f["properties"]["vehicle_id"]: f["properties"]["in_area"] for f in fleet["features"]}
    assert where["far1"] is False and where["occ1"] is True
    return int(fleet["properties"]["outside"])


def _feed_until_routed(settings: Settings, base: str, drivers: dict[str, str]) -> str:
    """Post the middle day hour by hour until one of the cabs gets a route."""
    fixes = day_fixes(settings, DAYS[1])
    with httpx.Client(base_url=base, timeout=30) as client:
        for _, batch in batches(fixes, 3600):
            r = client.post("/v1/telemetry", json={"fixes": batch}, headers=auth("ingest"))
            assert r.status_code == 200, r.text
            time.sleep(2.5)  # the server re-plans in the background after the data moved
            for vehicle, secret in drivers.items():
                got = client.get(
                    f"/v1/vehicles/{vehicle}/route", headers={"Authorization": f"Bearer {secret}"}
                )
                if got.status_code == 200:
                    return vehicle
    raise AssertionError("no cab got a route all day")
