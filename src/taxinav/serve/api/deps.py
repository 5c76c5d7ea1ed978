"""What every router needs: the bearer-token role check."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from taxinav.serve.auth import Auth, Principal
from taxinav.serve.service import Service


def role(service: Service, *roles: str) -> Callable[[Request], Principal]:
    """A dependency admitting bearer tokens of ``roles`` (401 without one, 403 otherwise)."""

    def dependency(request: Request) -> Principal:
        p = service.auth.principal(request.headers.get("authorization"))
        Auth.allow(p, roles)
        return p

    return dependency
