"""The FastAPI application: one router per resource, thin over
:class:`~taxinav.serve.service.Service`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from taxinav.serve.api import health, ingest, model, operator, reads, web
from taxinav.serve.auth import AuthError
from taxinav.serve.metrics import RequestMetrics, RequestMetricsMiddleware
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

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)

    # Requests per route template and their latencies, for /metrics: the counts belong to
    # this app and are read through the service it serves.
    http = RequestMetrics()
    app.add_middleware(RequestMetricsMiddleware, metrics=http)
    service.http_metrics = http

    for module in (ingest, reads, operator, model, health):
        app.include_router(module.router(service))
    web.mount(app, service.settings.serve.tile_url)
    return app
