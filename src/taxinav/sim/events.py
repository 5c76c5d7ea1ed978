"""The simulation's event log: every state change, from which all KPIs are computed."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pyarrow as pa


class Kind(StrEnum):
    ENTER = "enter"  # vehicle appears in the area (vacant or occupied)
    LEAVE = "leave"  # vehicle leaves the area
    REQUEST = "request"  # a passenger starts waiting on a segment
    PICKUP = "pickup"  # a vacant vehicle takes a waiting passenger
    LOST = "lost"  # a passenger gave up
    DROPOFF = "dropoff"  # a trip ends; vehicle vacant again (or leaves if outside)
    MOVE = "move"  # a vacant vehicle entered a segment
    ASSIGN = "assign"  # the dispatcher sent a vacant vehicle to a booking (value: ETA s)


EVENT_SCHEMA = pa.schema(
    [
        ("t", pa.float64()),  # seconds since the simulation origin
        ("kind", pa.string()),
        ("vehicle", pa.int64()),  # -1 when not about a vehicle
        ("request", pa.int64()),  # -1 when not about a request
        ("segment", pa.int64()),
        ("group", pa.int64()),  # the vehicle's policy group (-1 for requests)
        # metres driven for MOVE, fare for PICKUP, 1 for a booked REQUEST, ETA s for ASSIGN
        ("value", pa.float64()),
    ]
)


@dataclass
class EventLog:
    """Append-only columns; cheap to append from the engine's inner loop."""

    t: list[float] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    vehicle: list[int] = field(default_factory=list)
    request: list[int] = field(default_factory=list)
    segment: list[int] = field(default_factory=list)
    group: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)

    def add(
        self, t: float, kind: Kind, *, vehicle: int = -1, request: int = -1, segment: int = -1,
        group: int = -1, value: float = 0.0,
    ) -> None:  # fmt: skip
        self.t.append(t)
        self.kind.append(kind.value)
        self.vehicle.append(vehicle)
        self.request.append(request)
        self.segment.append(segment)
        self.group.append(group)
        self.value.append(value)

    def table(self) -> pa.Table:
        return pa.table(
            {name: getattr(self, name) for name in EVENT_SCHEMA.names}, schema=EVENT_SCHEMA
        )
