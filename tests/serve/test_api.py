"""The API on real data: roles on every route, per-item rejection, limits, duplicates,
routes for vacant taxis only, GeoJSON demand, model and metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest

from taxinav.serve.responses import DemandCollection, ModelInfo, RouteFeature, VehicleCollection
from tests.serve.conftest import auth

pytestmark = [pytest.mark.data, pytest.mark.slow]

# (method, path, roles allowed); a driver token belongs to vehicle "abboip".
ROUTES = [
    ("post", "/v1/telemetry", {"ingest"}),
    ("post", "/v1/rides", {"ingest"}),
    ("get", "/v1/demand?unit=h3", {"driver", "operator"}),
    ("get", "/v1/network", {"driver", "operator"}),
    ("get", "/v1/vehicles/abboip/route", {"driver", "operator"}),
    ("get", "/v1/vehicles", {"operator"}),
    ("get", "/v1/model", {"operator"}),
    ("get", "/v1/alerts", {"operator"}),
    ("get", "/metrics", {"operator"}),
    ("post", "/v1/model/rollback", {"operator"}),
]


def _call(client: Any, method: str, path: str, headers: dict[str, str]) -> Any:
    body = {"/v1/telemetry": {"fixes": []}, "/v1/rides": {"events": []}}.get(path)
    return client.request(method.upper(), path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "allowed"), ROUTES)
def test_every_route_wants_a_token_of_the_right_role(
    client: Any, method: str, path: str, allowed: set[str]
) -> None:
    first = _call(client, method, path, {})
    assert first.status_code == 401, first.text
    bad = _call(client, method, path, {"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    for role in ("driver", "operator", "ingest"):
        status = _call(client, method, path, auth(role)).status_code
        assert (status != 403) == (role in allowed), (role, status)
        assert status != 401


def test_a_driver_may_not_read_another_vehicles_route(client: Any) -> None:
    r = client.get("/v1/vehicles/abcoij/route", headers=auth("driver"))
    assert r.status_code == 403 and "own vehicle" in r.json()["detail"]


def _fix(v: str, minute: int, **over: Any) -> dict[str, Any]:
    fix = {
        "vehicle_id": v,
        "ts": datetime(2008, 5, 19, 20, minute, tzinfo=UTC).isoformat(),
        "lat": 37.7880,
        "lon": -122.4075,
        "occupied": False,
    }
    return {**fix, **over}


def test_bad_items_are_named_and_the_good_ones_still_stored(client: Any) -> None:
    fixes = [
        _fix("t1", 1),
        _fix("t1", 2, lat=95.0),
        {"vehicle_id": "t2"},
        _fix("t2", 3, ts="2008-05-19T20:03:00"),
        _fix("t3", 4),
    ]
    r = client.post("/v1/telemetry", json={"fixes": fixes}, headers=auth("ingest"))
    assert r.status_code == 422
    body = r.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0
    rejected = {(x["index"], x["field"]) for x in body["rejected"]}
    assert (1, "lat") in rejected and (3, "ts") in rejected
    assert {(2, "ts"), (2, "lat"), (2, "lon"), (2, "occupied")} <= rejected
    assert 0 not in {x["index"] for x in body["rejected"]}
    service = client.service
    assert service.flush() >= 1
    landed = service.settings.api_landing_dir
    got = (
        duckdb.connect()
        .execute(
            f"""SELECT vehicle_id FROM read_parquet('{landed}/fixes-*.parquet')
            WHERE vehicle_id IN ('t1', 't3') ORDER BY 1"""
        )
        .fetchall()
    )
    assert got == [("t1",), ("t3",)]


def test_repeats_have_no_effect_and_oversized_batches_get_413(client: Any) -> None:
    batch = {"fixes": [_fix("t9", 1), _fix("t9", 1), _fix("t9", 2)]}
    first = client.post("/v1/telemetry", json=batch, headers=auth("ingest")).json()
    again = client.post("/v1/telemetry", json=batch, headers=auth("ingest")).json()
    assert (first["accepted"], first["duplicates"]) == (2, 1)
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    big = {"fixes": [_fix("t8", m % 60, occupied=bool(m % 2)) for m in range(2001)]}
    assert client.post("/v1/telemetry", json=big, headers=auth("ingest")).status_code == 413
    events = [
        {
            "event_key": "k1",
            "vehicle_id": "t9",
            "kind": "pickup",
            "lat": 37.79,
            "lon": -122.41,
            "ts": "2008-05-19T20:05:00+00:00",
        }
    ] * 2
    r = client.post("/v1/rides", json={"events": events}, headers=auth("ingest")).json()
    assert (r["accepted"], r["duplicates"]) == (1, 1)


def test_routes_for_vacant_taxis_only(client: Any) -> None:
    from tests.serve.test_parity import replay_through

    service = client.service
    for hour in range(7, 23):  # until some vacant taxi is on the (downtown) network
        replay_through(client, hours=(hour, hour + 1))
        service.refresh(force=True)
        if service.routes:
            break
    assert client.get("/v1/vehicles/nosuch/route", headers=auth("operator")).status_code == 404
    live = service.live.latest(__import__("datetime").timedelta(minutes=5))
    occupied = [k for k, v in live if v.occupied]
    if occupied:
        r = client.get(f"/v1/vehicles/{occupied[0]}/route", headers=auth("operator"))
        assert r.status_code == 409
    assert service.routes, "some vacant taxi should be on the network and get a route"
    vid = sorted(service.routes)[0]
    r = client.get(f"/v1/vehicles/{vid}/route", headers=auth("operator"))
    assert r.status_code == 200
    props = r.json()["properties"]
    assert props["vehicle_id"] == vid and len(props["eta"]) == len(props["segments"])
    assert all(0 <= p <= 1 for p in props["p_cumulative"])
    assert props["p_cumulative"] == sorted(props["p_cumulative"])
    typed = RouteFeature.model_validate_json(r.content)  # the declared answer, field by field
    assert typed.properties.position.ts.tzinfo is not None and typed.properties.eta


def test_the_plan_routes_only_the_guided_vehicles(client: Any) -> None:
    from tests.serve.test_parity import replay_through

    service = client.service
    for hour in range(7, 23):
        replay_through(client, hours=(hour, hour + 1))
        service.refresh(force=True)
        if len(service.snapshot.plan.segments) >= 2:
            break
    placed = len(service.snapshot.plan.segments)
    assert placed >= 2, "two vacant taxis should be on the network at some hour"
    everyone = set(service.routes)
    one = sorted(everyone)[0]
    service.settings.serve.guided_vehicles = [one]  # the others cruise by their habits
    service.refresh(force=True)
    assert set(service.routes) <= {one}
    assert service.snapshot.plan.guided == 1 and service.snapshot.plan.placed == placed


def test_demand_model_metrics_and_health(client: Any) -> None:
    from tests.serve.test_parity import replay_through

    replay_through(client, hours=(12, 13))
    client.service.refresh(force=True)
    h3 = client.get("/v1/demand?unit=h3", headers=auth("driver")).json()
    assert h3["type"] == "FeatureCollection" and len(h3["features"]) > 20
    p = h3["features"][0]["properties"]
    assert p["ratio"] == pytest.approx(p["forecast"] / (p["supply"] + 1), abs=1e-3)
    road = client.get("/v1/demand?unit=road", headers=auth("operator")).json()
    assert road["features"] and road["features"][0]["geometry"]["type"] == "LineString"
    for unit in ("h3", "road"):
        r = client.get(f"/v1/demand?unit={unit}", headers=auth("operator"))
        assert DemandCollection.model_validate_json(r.content).properties.unit == unit
    r = client.get("/v1/vehicles", headers=auth("operator"))
    assert VehicleCollection.model_validate_json(r.content).features
    model = client.get("/v1/model", headers=auth("operator")).json()
    assert model["champion_version"] is None and model["last_plan"]["at"]
    assert ModelInfo.model_validate(model).timezone == "America/Los_Angeles"
    text = client.get("/metrics", headers=auth("operator")).text
    assert 'taxinav_ingested_items_total{kind="fixes",outcome="accepted"}' in text
    assert client.get("/healthz").json() == {"status": "ok"}
    config = client.get("/map-config.json").json()
    assert config["tile_url"] is None
    w, s, e, n = config["extent"]  # downtown San Francisco
    assert -122.52 < w < e < -122.35 and 37.70 < s < n < 37.83
    assert client.get("/readyz").status_code == 200
    assert client.get("/v1/demand?unit=nope", headers=auth("driver")).status_code == 422


def test_the_network_and_demand_are_sent_for_the_map_view(client: Any) -> None:
    """A street-level view gets the segments that reach into it, and no others."""
    import numpy as np

    whole = client.get("/v1/network", headers=auth("driver")).json()["features"]
    w, s, e, n = -122.410, 37.785, -122.405, 37.789  # a few blocks around Union Square
    view = client.get(f"/v1/network?bbox={w},{s},{e},{n}", headers=auth("driver")).json()
    inside = []
    for f in whole:
        xy = np.asarray(f["geometry"]["coordinates"])
        if (
            xy[:, 0].min() <= e
            and xy[:, 0].max() >= w
            and xy[:, 1].min() <= n
            and (xy[:, 1].max() >= s)
        ):
            inside.append(f["properties"]["segment"])
    got = [f["properties"]["segment"] for f in view["features"]]
    assert got == inside and 0 < len(got) < len(whole) / 20
    road = client.get(f"/v1/demand?unit=road&bbox={w},{s},{e},{n}", headers=auth("driver"))
    assert road.status_code == 200 and road.json()["properties"]["unit"] == "road"
    bad = client.get("/v1/network?bbox=1,2,3", headers=auth("driver"))
    assert bad.status_code == 422 and "bbox" in bad.json()["detail"]


def test_a_replay_with_simulated_twins_lands_apart_from_the_batch(service_settings: Any) -> None:
    from fastapi.testclient import TestClient

    from taxinav.cli.serve import replay_settings
    from taxinav.serve.api import create_app
    from taxinav.serve.service import Service
    from tests.serve.conftest import DAYS

    assert replay_settings(service_settings, DAYS[1], 0.0) is service_settings
    settings = replay_settings(service_settings, DAYS[1], 0.2)
    assert settings.api_landing_dir == settings.home / "serve" / "replay_landing"
    service = Service(settings)
    with TestClient(create_app(service, DAYS[1], background=False)) as c:
        r = c.post("/v1/telemetry", json={"fixes": [_fix("twin", 1)]}, headers=auth("ingest"))
        assert r.status_code == 200, r.text
        assert service.flush() >= 1
    con = duckdb.connect()
    queries = [
        con.execute(f"""SELECT count(*) FROM read_parquet('{folder}/fixes-*.parquet')
                        WHERE vehicle_id = 'twin'""").fetchall()[0][0]
        if any(folder.glob("fixes-*.parquet")) else 0
        for folder in (settings.api_landing_dir, settings.pipeline_api_landing)
    ]  # fmt: skip
    assert queries == [1, 0]


def test_the_openapi_document_declares_each_answer(client: Any) -> None:
    doc = client.get("/openapi.json").json()
    paths, schemas = doc["paths"], doc["components"]["schemas"]

    def declared(path: str, media: str) -> str:
        ref = paths[path]["get"]["responses"]["200"]["content"][media]["schema"]["$ref"]
        return str(ref.rsplit("/", 1)[-1])

    assert declared("/v1/demand", "application/geo+json") == "DemandCollection"
    assert declared("/v1/vehicles/{vehicle_id}/route", "application/geo+json") == "RouteFeature"
    assert declared("/v1/vehicles", "application/json") == "VehicleCollection"
    assert declared("/v1/model", "application/json") == "ModelInfo"
    assert (
        "type"
        not in paths["/v1/demand"]["get"]["responses"]["200"]["content"]["application/geo+json"][
            "schema"
        ]
    )  # the model alone describes the bytes
    route = schemas["RouteProperties"]["properties"]
    assert {"p_found", "eta", "position", "segments"} <= set(route)
    assert schemas["Training"]["properties"]["trained_before"]["anyOf"][0]["format"] == "date"
