"""Telemetry and ride events in (role ``ingest``); durable before the answer."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from taxinav.serve.api.deps import role
from taxinav.serve.auth import Principal
from taxinav.serve.schemas import IngestResult, RideBatch, TelemetryBatch
from taxinav.serve.service import Service


def router(service: Service) -> APIRouter:
    app = APIRouter()
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

    return app
