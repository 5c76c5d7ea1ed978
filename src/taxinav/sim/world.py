"""What a simulation replays: the road graph, real requests and real fleet presence."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Network:
    """Directed segments: legal successors (CSR), free-flow times, nearby segments."""

    succ_indptr: IntArray
    succ_indices: IntArray
    travel_s: FloatArray
    length_m: FloatArray
    near_indptr: IntArray  # segments within the match radius of s (s first)
    near_indices: IntArray

    @property
    def n_segments(self) -> int:
        return int(self.travel_s.shape[0])

    def successors(self, s: int) -> IntArray:
        return self.succ_indices[self.succ_indptr[s] : self.succ_indptr[s + 1]]

    def near(self, s: int) -> IntArray:
        return self.near_indices[self.near_indptr[s] : self.near_indptr[s + 1]]


@dataclass(frozen=True)
class Requests:
    """Street hails, sorted by time (seconds since the simulation origin)."""

    t: FloatArray
    segment: IntArray
    dropoff_segment: IntArray  # -1: the real trip ended outside the mapped area
    duration_s: FloatArray  # inside the area only, for trips that end outside it
    fare: FloatArray
    # For trips that end outside: where the trip left the area, and how long it then took.
    exit_segment: IntArray | None = None
    outside_s: FloatArray | None = None

    def __len__(self) -> int:
        return int(self.t.shape[0])


@dataclass(frozen=True)
class Presence:
    """Episodes of real vehicles inside the area, sorted by entry time."""

    vehicle: IntArray  # the real vehicle (policy groups are drawn per real vehicle)
    enter_t: FloatArray
    leave_t: FloatArray
    segment: IntArray  # where it enters
    busy_until: FloatArray  # NaN: vacant on entry; else when its real passenger leaves
    free_segment: IntArray  # where that passenger leaves (-1: outside the area)
    crossed_in: NDArray[np.bool_] | None = None  # drove in from outside (not a shift start)
    names: tuple[str, ...] = ()  # the real vehicle id of each ``vehicle`` index

    def __len__(self) -> int:
        return int(self.enter_t.shape[0])


@dataclass(frozen=True)
class World:
    network: Network
    requests: Requests
    presence: Presence
    horizon_s: float
    # Real speed over free-flow speed for each simulated hour (index: hours since origin).
    speed_factor: FloatArray | None = None
    origin: datetime = field(kw_only=True)  # the instant t = 0
    tz: ZoneInfo = field(kw_only=True)  # the city's: which hour of the local day t is in

    @property
    def origin_hour(self) -> int:
        """The local hour at t = 0, from the origin and the time zone: 0 when the day starts
        at local midnight, 1 on a day whose midnight the clocks skip."""
        return self.origin.astimezone(self.tz).hour

    def speed(self, t: float) -> float:
        """Real over free-flow speed at ``t``."""
        if self.speed_factor is None:
            return 1.0
        return float(self.speed_factor[min(int(t // 3600), self.speed_factor.shape[0] - 1)])

    def travel_s(self, segment: int, t: float) -> float:
        base = float(self.network.travel_s[segment])
        if self.speed_factor is None:
            return base
        hour = min(int(t // 3600), self.speed_factor.shape[0] - 1)
        return base / float(self.speed_factor[hour])
