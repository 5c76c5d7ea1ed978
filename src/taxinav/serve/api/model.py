"""The served model: its card and live accuracy, promotion and rollback (operator)."""

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from taxinav.serve.api.deps import role
from taxinav.serve.auth import Principal
from taxinav.serve.responses import ModelInfo
from taxinav.serve.service import Conflict, NotFound, Service


def router(service: Service) -> APIRouter:
    app = APIRouter()
    Operator = Annotated[Principal, Depends(role(service, "operator"))]

    @app.get("/v1/model", response_model=ModelInfo)
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

    return app
