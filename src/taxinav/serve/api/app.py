"""The FastAPI application: one router per resource, thin over
:class:`~taxinav.serve.service.Service`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from taxinav.serve.api import deps, health, ingest, model, operator, reads, web
from taxinav.serve.metrics import RequestMetrics, RequestMetricsMiddleware
from taxinav.serve.responses import GeoJSON
from taxinav.serve.service import Service

__all__ = ["create_app"]


def create_app(service: Service, day: date | None = None,
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

    deps.install_auth_errors(app)

    # Requests per route template and their latencies, for /metrics: the counts belong to
    # this app and are read through the service it serves.
    http = RequestMetrics()
    app.add_middleware(RequestMetricsMiddleware, metrics=http)
    service.http_metrics = http

    apart = service.acks_apart(background)
    app.include_router(ingest.forwarding_router(service) if apart else ingest.router(service))
    for module in (reads, operator, model, health):
        app.include_router(module.router(service))
    web.mount(app, service.settings.serve.tile_url, service.network_extent)
    app.openapi = lambda: _declared_geojson(app)  # type: ignore[method-assign]
    return app


def _declared_geojson(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, its GeoJSON answers described by their models alone (FastAPI
    adds ``type: string`` beside the model to an answer that is not JSON)."""
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version, description=app.description,
                          routes=app.routes)  # fmt: skip
        for path in doc.get("paths", {}).values():
            for op in path.values():
                for answer in op.get("responses", {}).values():
                    schema = answer.get("content", {}).get(GeoJSON.media_type, {}).get("schema")
                    if schema and "$ref" in schema:
                        schema.pop("type", None)
        app.openapi_schema = doc
    return app.openapi_schema
