"""What every router needs: the bearer-token role check, and its errors as answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from taxinav.serve.auth import Auth, AuthError, Principal


class Authenticates(Protocol):
    @property
    def auth(self) -> Auth: ...


def role(service: Authenticates, *roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting bearer tokens of ``roles`` (401 without one, 403 otherwise).
    A coroutine, though it never waits: a plain function would run in the thread pool, a
    hand-over each way per request for a hash and a comparison."""

    async def dependency(request: Request) -> Principal:
        p = service.auth.principal(request.headers.get("authorization"))
        Auth.allow(p, roles)
        return p

    return dependency


def install_auth_errors(app: FastAPI) -> None:
    """Answer an :class:`AuthError` with its status (and a Bearer challenge on a 401)."""

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)
