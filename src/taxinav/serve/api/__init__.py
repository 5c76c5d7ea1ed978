"""The FastAPI application (``app.create_app``): one router per resource, thin over
:class:`~taxinav.serve.service.Service`. Imported on first use, so that the ingest process,
which serves only ``ingest``, does not load the service with it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taxinav.serve.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from taxinav.serve.api.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
