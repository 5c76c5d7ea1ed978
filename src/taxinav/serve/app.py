"""The FastAPI application: thin routes over :class:`~taxinav.serve.service.Service`."""

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from taxinav.serve import views
from taxinav.serve.auth import Auth, AuthError, Principal
from taxinav.serve.metrics import exposition
from taxinav.serve.schemas import IngestResult, RideBatch, TelemetryBatch
from taxinav.serve.service import LIVE_WINDOW, Conflict, NotFound, Service

WEB_DIR = Path(__file__).parent / "web"


def create_app(service: Service, day: date | None = None, node_modules: Path | None = None,
               background: bool = True) -> FastAPI:  # fmt: skip
    """The app; on start-up it loads ``day`` (unless the service is already started)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not service.ready:
            service.start(day or date.today(), background=background)
        yield
        service.stop()

    app = FastAPI(title="taxinav", version="1", lifespan=lifespan,
                  description="Telemetry in; demand forecasts and coordinated cruising routes "
                  "out. Bearer tokens with roles driver, operator, ingest.")  # fmt: skip

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)

    _ingest_routes(app, service)
    _read_routes(app, service)
    _operator_routes(app, service)
    _model_routes(app, service)
    _health_routes(app, service)
    _web_routes(app, node_modules, service.settings.serve.tile_url)
    return app


def role(service: Service, *roles: str) -> Callable[[Request], Principal]:
    """A dependency admitting bearer tokens of ``roles`` (401 without one, 403 otherwise)."""

    def dependency(request: Request) -> Principal:
        p = service.auth.principal(request.headers.get("authorization"))
        Auth.allow(p, roles)
        return p

    return dependency


def _ingest_routes(app: FastAPI, service: Service) -> None:
    Ingest = Annotated[Principal, Depends(role(service, "ingest"))]

    def _limit(request: Request, n: int) -> JSONResponse | None:
        s = service.settings.serve
        size = int(request.headers.get("content-length") or 0)
        if size > s.max_body_bytes or n > s.max_batch_items:
            detail = f"batch too large: at most {s.max_batch_items} items, {s.max_body_bytes} bytes"
            return JSONResponse({"detail": detail}, status_code=413)
        return None

    def _ingested(result: IngestResult) -> JSONResponse:
        status = 422 if result.rejected else 200
        return JSONResponse(result.model_dump(), status_code=status)

    @app.post("/v1/telemetry", response_model=IngestResult,
              responses={413: {"description": "batch too large"},
                         422: {"model": IngestResult, "description": "some items rejected; "
                               "the valid ones were stored"}})  # fmt: skip
    def telemetry(batch: TelemetryBatch, request: Request, _: Ingest) -> Response:
        """Store a batch of GPS fixes (durable before the response)."""
        return _limit(request, len(batch.fixes)) or _ingested(service.ingest_fixes(batch.fixes))

    @app.post("/v1/rides", response_model=IngestResult,
              responses={413: {"description": "batch too large"},
                         422: {"model": IngestResult}})  # fmt: skip
    def rides(batch: RideBatch, request: Request, _: Ingest) -> Response:
        """Store pickup/drop-off events; a repeated ``event_key`` has no effect."""
        return _limit(request, len(batch.events)) or _ingested(service.ingest_rides(batch.events))


def _read_routes(app: FastAPI, service: Service) -> None:
    Reader = Annotated[Principal, Depends(role(service, "driver", "operator"))]

    @app.get("/v1/demand", response_class=Response,
             responses={200: {"content": {"application/geo+json": {}}}})  # fmt: skip
    def demand(_: Reader, unit: Literal["road", "h3"] = "h3") -> Response:
        """Forecast pickups over the horizon (``horizon_min``), live vacant supply and their ratio
        (GeoJSON FeatureCollection)."""
        return Response(service.demand(unit), media_type="application/geo+json")

    geo: dict[str, Any] = {"content": {"application/geo+json": {}}}

    @app.get("/v1/vehicles/{vehicle_id}/route", response_class=Response,
             responses={200: geo, 404: {}, 409: {}})  # fmt: skip
    async def route(vehicle_id: str, p: Reader) -> Response:  # a lookup: no thread hop
        """The vehicle's coordinated cruising route (GeoJSON Feature with per-step chance of a
        passenger and ETA)."""
        Auth.allow(p, ("driver", "operator"), vehicle_id)
        try:
            return Response(service.vehicle_route(vehicle_id), media_type="application/geo+json")
        except NotFound as exc:
            return JSONResponse({"detail": str(exc)}, status_code=404)
        except Conflict as exc:
            return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.get("/v1/network")
    def network(_: Reader) -> Response:
        """The road network (the map's base layer)."""
        assert service.ctx is not None
        if "network" not in service.cache:
            service.cache["network"] = json.dumps(views.network(service.ctx.graph)).encode()
        return Response(service.cache["network"], media_type="application/geo+json")


def _operator_routes(app: FastAPI, service: Service) -> None:
    Operator = Annotated[Principal, Depends(role(service, "operator"))]

    @app.get("/v1/vehicles")
    def vehicles(_: Operator) -> dict[str, Any]:
        """Every vehicle seen in the last minutes, vacant or occupied."""
        assert service.live is not None
        return views.vehicles(service.live, LIVE_WINDOW)

    @app.get("/v1/alerts")
    def alerts(_: Operator) -> list[dict[str, str]]:
        """Recent alerts (live accuracy, late data)."""
        return [{"kind": a.kind, "message": a.message, "at": a.at} for a in service.alerts()]

    @app.get("/metrics")
    def metrics(_: Operator) -> Response:
        """Prometheus metrics of the service."""
        return Response(exposition(service), media_type="text/plain; version=0.0.4")


def _model_routes(app: FastAPI, service: Service) -> None:
    Operator = Annotated[Principal, Depends(role(service, "operator"))]

    @app.get("/v1/model")
    def model(_: Operator) -> dict[str, Any]:
        """The champion, its training window and its live accuracy against the base model."""
        return service.model_info()

    def _registry_call(call: Callable[[], dict[str, Any]]) -> Any:  # 404/409 as JSON
        try:
            return call()
        except NotFound as exc:
            return JSONResponse({"detail": str(exc)}, status_code=404)
        except Conflict as exc:
            return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.post("/v1/model/promote", responses={404: {}, 409: {}})
    def promote(_: Operator, version: Annotated[str, Query(pattern=r"^\d+$")],
                unit: Literal["road", "h3"] = "h3") -> Any:  # fmt: skip
        """Make a registered version the champion (recorded)."""
        return _registry_call(lambda: service.promote(unit, version))

    @app.post("/v1/model/rollback", responses={409: {}})
    def rollback(_: Operator, unit: Literal["road", "h3"] = "h3") -> Any:
        """Restore the previous champion (recorded)."""
        return _registry_call(lambda: service.rollback(unit))


def _health_routes(app: FastAPI, service: Service) -> None:
    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness (no token: probes carry none)."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Readiness: the day is loaded and the log recovered."""
        ok = service.ready
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)


def _web_routes(app: FastAPI, node_modules: Path | None, tile_url: str | None) -> None:
    @app.get("/map-config.json", include_in_schema=False)
    def map_config() -> dict[str, str | None]:
        """What the page needs before it has a token (no secrets)."""
        return {"tile_url": tile_url}

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/map/operator.html")

    app.mount("/map", StaticFiles(directory=WEB_DIR, html=True), name="map")
    if node_modules is not None and (node_modules / "leaflet").is_dir():
        app.mount("/vendor/leaflet", StaticFiles(directory=node_modules / "leaflet" / "dist"),
                  name="leaflet")  # fmt: skip
