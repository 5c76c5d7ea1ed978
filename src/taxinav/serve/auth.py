"""Bearer tokens with roles. Secrets are stored only as SHA-256 digests in settings."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from taxinav.settings import DEV_TOKENS, ServeSettings, TokenSpec, token_hash


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    vehicle_id: str | None = None


class AuthError(Exception):
    """401 (``status`` 401: no or unknown token) or 403 (known token, not allowed)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Auth:
    def __init__(self, tokens: list[TokenSpec]) -> None:
        self.tokens = list(tokens)

    def principal(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthError(401, "missing bearer token")
        digest = token_hash(authorization.removeprefix("Bearer ").strip())
        for t in self.tokens:  # constant-time per comparison
            if hmac.compare_digest(t.sha256, digest):
                return Principal(t.name, t.role, t.vehicle_id)
        raise AuthError(401, "unknown token")

    @staticmethod
    def allow(p: Principal, roles: tuple[str, ...], vehicle_id: str | None = None) -> None:
        if p.role not in roles:
            raise AuthError(403, f"role {p.role} may not do this (needs {' or '.join(roles)})")
        if p.role == "driver" and vehicle_id is not None and p.vehicle_id != vehicle_id:
            raise AuthError(403, "a driver may read only their own vehicle")


def check_production(settings: ServeSettings) -> None:
    """Refuse to serve production traffic with no tokens or with a development token."""
    if not settings.production:
        return
    if not settings.tokens:
        raise RuntimeError("production mode needs tokens: set TAXINAV_SERVE__TOKENS")
    dev = {token_hash(t) for t in DEV_TOKENS}
    weak = [t.name for t in settings.tokens if t.sha256 in dev]
    if weak:
        raise RuntimeError(f"production mode refuses development tokens: {', '.join(weak)}")
    drivers = [t.name for t in settings.tokens if t.role == "driver" and not t.vehicle_id]
    if drivers:
        raise RuntimeError(f"driver tokens need a vehicle_id: {', '.join(drivers)}")
