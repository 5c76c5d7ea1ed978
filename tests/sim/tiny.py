"""Tiny worlds with known answers."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from taxinav.sim import Network, Presence, Requests, World

UTC_ZONE = ZoneInfo("UTC")
MIDNIGHT = datetime(2008, 5, 27, tzinfo=UTC)  # t = 0 of a tiny world, unless given


def ring(n: int = 3, travel_s: float = 30.0, length_m: float = 300.0) -> Network:
    """Segments 0 → 1 → ... → n-1 → 0; each 'near' only itself."""
    return Network(
        succ_indptr=np.arange(n + 1, dtype=np.int64),
        succ_indices=np.array([(i + 1) % n for i in range(n)], dtype=np.int64),
        travel_s=np.full(n, travel_s),
        length_m=np.full(n, length_m),
        near_indptr=np.arange(n + 1, dtype=np.int64),
        near_indices=np.arange(n, dtype=np.int64),
    )


def requests(rows: list[tuple[float, int, int, float, float]]) -> Requests:
    """(t, segment, dropoff segment, duration, fare)."""
    a = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return Requests(a[:, 0], a[:, 1].astype(np.int64), a[:, 2].astype(np.int64), a[:, 3], a[:, 4])


def one_taxi(segment: int = 0, leave_t: float = 10_000.0) -> Presence:
    return Presence(
        vehicle=np.array([0]), enter_t=np.array([0.0]), leave_t=np.array([leave_t]),
        segment=np.array([segment]), busy_until=np.array([np.nan]), free_segment=np.array([-1]),
    )  # fmt: skip


def world(
    net: Network, req: Requests, presence: Presence, horizon_s: float = 600.0,
    origin: datetime = MIDNIGHT, tz: ZoneInfo = UTC_ZONE,
) -> World:  # fmt: skip
    """t = 0 is ``origin``; ``tz`` says which local hour that is (by default midnight)."""
    return World(net, req, presence, horizon_s, origin=origin, tz=tz)
