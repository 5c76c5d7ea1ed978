"""The operator's views: every vehicle, alerts, Prometheus metrics."""

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from taxinav.serve import views
from taxinav.serve.api.deps import role
from taxinav.serve.auth import Principal
from taxinav.serve.metrics import exposition
from taxinav.serve.responses import VehicleCollection
from taxinav.serve.service import LIVE_WINDOW, Service


def router(service: Service) -> APIRouter:
    app = APIRouter()
    Operator = Annotated[Principal, Depends(role(service, "operator"))]

    @app.get("/v1/vehicles", response_model=VehicleCollection)
    def vehicles(_: Operator) -> dict[str, Any]:
        """Every vehicle seen in the last minutes, vacant or occupied."""
        assert service.live is not None
        return views.vehicles(service.live, LIVE_WINDOW, service.network_extent(),
                              time.time() - service.last_ingest)  # fmt: skip

    @app.get("/v1/alerts")
    def alerts(_: Operator) -> list[dict[str, str]]:
        """Recent alerts (live accuracy, late data)."""
        return [{"kind": a.kind, "message": a.message, "at": a.at} for a in service.alerts()]

    @app.get("/metrics")
    def metrics(_: Operator) -> Response:
        """Prometheus metrics of the service."""
        return Response(exposition(service), media_type="text/plain; version=0.0.4")

    return app
