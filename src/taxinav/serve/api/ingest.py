"""Telemetry and ride events in (role ``ingest``); durable before the answer.

Either answered here (``router``), or, when acknowledgements run in a process of their own
(:mod:`taxinav.serve.ingest_process`), forwarded there unread (``forwarding_router``): that
process serves ``router`` itself."""

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from taxinav.serve.api.deps import Authenticates, role
from taxinav.serve.auth import Principal
from taxinav.serve.schemas import IngestResult, RideBatch, TelemetryBatch
from taxinav.settings import Settings

_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"description": "batch too large"},
    422: {"model": IngestResult, "description": "some items rejected; the valid ones were stored"},
    503: {"description": "ingestion restarting: nothing stored, retry"},
}


class Ingests(Authenticates, Protocol):
    @property
    def settings(self) -> Settings: ...

    def ingest_fixes(self, items: list[Any]) -> IngestResult: ...

    def ingest_rides(self, items: list[Any]) -> IngestResult: ...


class Forwards(Protocol):
    async def forward(self, request: Request) -> Response: ...


def router(service: Ingests) -> APIRouter:
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

    @app.post("/v1/telemetry", response_model=IngestResult, responses=_RESPONSES)
    def telemetry(batch: TelemetryBatch, request: Request, _: Ingest) -> Response:
        """Store a batch of GPS fixes (durable before the response)."""
        return _limit(request, len(batch.fixes)) or _ingested(service.ingest_fixes(batch.fixes))

    @app.post("/v1/rides", response_model=IngestResult, responses=_RESPONSES)
    def rides(batch: RideBatch, request: Request, _: Ingest) -> Response:
        """Store pickup/drop-off events; a repeated ``event_key`` has no effect."""
        return _limit(request, len(batch.events)) or _ingested(service.ingest_rides(batch.events))

    return app


def forwarding_router(to: Forwards) -> APIRouter:
    """The same endpoints, answered by the ingest process: the body is passed on unread."""
    app = APIRouter()

    def body(model: type[TelemetryBatch | RideBatch]) -> dict[str, Any]:
        schema = model.model_json_schema()
        return {"requestBody": {"required": True,
                                "content": {"application/json": {"schema": schema}}}}  # fmt: skip

    @app.post("/v1/telemetry", response_model=IngestResult, responses=_RESPONSES,
              openapi_extra=body(TelemetryBatch))  # fmt: skip
    async def telemetry(request: Request) -> Response:
        """Store a batch of GPS fixes (durable before the response)."""
        return await to.forward(request)

    @app.post("/v1/rides", response_model=IngestResult, responses=_RESPONSES,
              openapi_extra=body(RideBatch))  # fmt: skip
    async def rides(request: Request) -> Response:
        """Store pickup/drop-off events; a repeated ``event_key`` has no effect."""
        return await to.forward(request)

    return app
