"""Liveness and readiness probes (no token: probes carry none)."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from taxinav.serve.service import Service


def router(service: Service) -> APIRouter:
    app = APIRouter()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness (no token: probes carry none)."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Readiness: the day is loaded and the log recovered."""
        ok = service.ready
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    return app
