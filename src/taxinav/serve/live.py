"""Live state from the telemetry stream: each vehicle's latest fix and status, and demand
counts per unit and 10-minute slot, updated fix by fix.

Trips are recognised exactly as the batch derivation does (``ingest/trips.py``): a pickup is
the first occupied fix after a vacant one of the same run (fixes at most the gap limit apart),
and it counts once the trip closes with a vacant fix of the same run. So for the same fixes
the live counts equal the pipeline's ``demand_counts`` — the online features, built by the
same feature expression from these counts, equal the offline ones.
"""

from __future__ import annotations

import math
import pickle
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from taxinav.features import Slotting
from taxinav.features.sources import cell_of
from taxinav.roads import RoadGraph, SegmentIndex
from taxinav.serve.claims import Claims
from taxinav.serve.schemas import Fix

KEEP_DAYS = 2
# Vacant vehicles are counted distinct per unit and slot; once a slot is this far behind the
# clock its set of vehicle ids is replaced by its size (a later fix for it is counted as late).
SEAL_AFTER = timedelta(hours=1)


def _hav_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371008.8 * math.asin(math.sqrt(a))


def _bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(y, x)) + 360) % 360


@dataclass
class Pickup:
    ts: datetime
    lat: float
    lon: float
    prev: tuple[float, float]
    heading: float | None = None
    resolved: bool = False  # heading known (the next fix arrived)


@dataclass
class Vehicle:
    ts: datetime
    lat: float
    lon: float
    occupied: bool
    heading: float | None = None
    prev: tuple[float, float] | None = None
    pickup: Pickup | None = None


class LiveState:
    def __init__(
        self,
        graph: RoadGraph,
        h3_cells: list[str],
        h3_res: int,
        slotting: Slotting,
        gap_limit_s: float,
        match_radius_m: float,
        heading_weight_m: float,
    ) -> None:
        self.graph = graph
        self.index = SegmentIndex(graph)
        self.cells = set(h3_cells)
        self.res, self.slotting, self.gap_s = h3_res, slotting, gap_limit_s
        self.radius_m, self.heading_m = match_radius_m, heading_weight_m
        self.vehicles: dict[str, Vehicle] = {}
        self.claims = Claims()
        self.pickups: Counter[tuple[str, str, datetime]] = Counter()
        self.vacant: dict[tuple[str, datetime], set[str]] = {}
        self.vacant_road: dict[tuple[str, datetime], set[str]] = {}
        self.sealed: dict[str, Counter[tuple[str, datetime]]] = {"h3": Counter(), "road": Counter()}
        self.sealed_before: datetime | None = None
        self.late_supply = 0
        self.reported: Counter[tuple[str, datetime]] = Counter()  # meter pickups per cell, slot
        self.clock: datetime | None = None
        self.late = 0
        self._lock = threading.Lock()

    # What a live consumer checkpoints: every field the fixes change (not the graph, its
    # index or the locks, which a restarted process rebuilds).
    _STATE = ("vehicles", "pickups", "vacant", "vacant_road", "sealed", "sealed_before",
              "late_supply", "reported", "clock", "late")  # fmt: skip

    def dumps(self) -> bytes:
        """What the fixes so far built, serialised at once (for :meth:`loads`)."""
        with self._lock:
            state = {k: getattr(self, k) for k in self._STATE}
            state["claims"] = self.claims.recent
            return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    def loads(self, raw: bytes) -> None:
        """Continue from :meth:`dumps` of a state over the same network and settings (our
        own checkpoint file: pickle trusts its input)."""
        state = pickle.loads(raw)  # noqa: S301
        with self._lock:
            for k in self._STATE:
                setattr(self, k, state[k])
            self.claims.recent = state["claims"]

    def apply(self, fixes: list[Fix]) -> None:
        """Update positions, trips and counts with claimed fixes (any order: they are put in
        time order per vehicle)."""
        with self._lock:
            closed: list[Pickup] = []
            for f in sorted(fixes, key=lambda f: (f.vehicle_id, f.ts)):
                self._apply(f, self.vehicles.get(f.vehicle_id), closed)
            self._count_pickups(closed)
            self._count_vacant_roads([f for f in fixes if not f.occupied])
            if fixes:
                newest = max(f.ts for f in fixes)
                self.clock = newest if self.clock is None else max(self.clock, newest)

    def add_fixes(self, fixes: list[Fix]) -> tuple[list[Fix], int]:
        """Claim and apply: the new fixes and how many were repeats."""
        new, repeats = self.claims.claim(fixes)
        self.apply(new)
        return new, repeats

    def _apply(self, f: Fix, v: Vehicle | None, closed: list[Pickup]) -> None:
        self._count_vacant(f)
        if v is None:
            self.vehicles[f.vehicle_id] = Vehicle(f.ts, f.lat, f.lon, f.occupied)
            return
        if f.ts < v.ts:  # late: stored and counted as supply, but the trip logic is past it
            self.late += 1
            return
        same_run = (f.ts - v.ts).total_seconds() <= self.gap_s
        if v.pickup is not None and not v.pickup.resolved:
            p = v.pickup
            if same_run and _hav_m(p.prev[0], p.prev[1], f.lat, f.lon) > 10:
                p.heading = _bearing(p.prev[0], p.prev[1], f.lat, f.lon)
            p.resolved = True
        if not same_run:
            v.pickup = None  # a trip cut by a gap is not a trip
        elif not v.occupied and f.occupied:
            v.pickup = Pickup(f.ts, f.lat, f.lon, (v.lat, v.lon))
        elif v.occupied and not f.occupied and v.pickup is not None:
            closed.append(v.pickup)
            v.pickup = None
        moved = _hav_m(v.lat, v.lon, f.lat, f.lon) > 10
        v.heading = _bearing(v.lat, v.lon, f.lat, f.lon) if moved and same_run else v.heading
        v.prev = (v.lat, v.lon)
        v.ts, v.lat, v.lon, v.occupied = f.ts, f.lat, f.lon, f.occupied

    def _count_vacant(self, f: Fix) -> None:
        if f.occupied:
            return
        cell = cell_of(f.lat, f.lon, self.res)
        if cell in self.cells and not self._is_sealed(f.ts):
            self.vacant.setdefault((cell, self.slotting.floor(f.ts)), set()).add(f.vehicle_id)

    def _is_sealed(self, ts: datetime) -> bool:
        if self.sealed_before is not None and ts < self.sealed_before:
            self.late_supply += 1
            return True
        return False

    def _count_vacant_roads(self, fixes: list[Fix]) -> None:
        """Vacant vehicles per road segment and slot, from their fixes snapped to the road
        (the batch counts them on map-matched paths, which also cover the segments driven
        between fixes, so the live supply of a segment is a lower bound of the batch one)."""
        if self.sealed_before is not None:  # (counted as late supply by the H3 count)
            fixes = [f for f in fixes if f.ts >= self.sealed_before]
        if not fixes:
            return
        snap = self.index.snap(
            np.array([f.lat for f in fixes]), np.array([f.lon for f in fixes]),
            np.full(len(fixes), np.nan), radius_m=self.radius_m,
        )  # fmt: skip
        for f, seg in zip(fixes, snap.segment.tolist(), strict=True):
            if seg >= 0:
                key = (str(seg), self.slotting.floor(f.ts))
                self.vacant_road.setdefault(key, set()).add(f.vehicle_id)

    def _count_pickups(self, pickups: list[Pickup]) -> None:
        """Count closed trips at their pickup's cell and road segment (one snap for all)."""
        if not pickups:
            return
        for p in pickups:
            cell = cell_of(p.lat, p.lon, self.res)
            if cell in self.cells:
                self.pickups[("h3", cell, self.slotting.floor(p.ts))] += 1
        snap = self.index.snap(
            np.array([p.lat for p in pickups]),
            np.array([p.lon for p in pickups]),
            np.array([p.heading if p.heading is not None else np.nan for p in pickups]),
            radius_m=self.radius_m,
            heading_weight_m=self.heading_m,
        )
        for p, matched, seg in zip(pickups, snap.matched.tolist(), snap.segment.tolist(),
                                   strict=True):  # fmt: skip
            if matched:
                self.pickups[("road", str(seg), self.slotting.floor(p.ts))] += 1

    def add_reported_pickup(self, lat: float, lon: float, ts: datetime) -> None:
        with self._lock:
            self.reported[(cell_of(lat, lon, self.res), self.slotting.floor(ts))] += 1

    def counts(self, unit_type: str) -> pa.Table:
        """Live demand counts like the pipeline's ``demand_counts`` (unit_id, slot_start,
        pickups, vacant): distinct vacant vehicles per H3 cell or per road segment."""
        with self._lock:
            vacant = self.vacant if unit_type == "h3" else self.vacant_road
            sealed = self.sealed.get(unit_type, Counter())
            keys = {(u, s) for (t, u, s) in self.pickups if t == unit_type}
            rows = sorted(keys | set(vacant) | set(sealed))
            return pa.table(
                {
                    "unit_id": pa.array([u for u, _ in rows], pa.string()),
                    "slot_start": pa.array([s for _, s in rows], pa.timestamp("us", tz="UTC")),
                    "pickups": pa.array(
                        [self.pickups.get((unit_type, u, s), 0) for u, s in rows], pa.int64()
                    ),
                    "vacant": pa.array(
                        [len(vacant[k]) if k in vacant else sealed.get(k, 0) for k in rows],
                        pa.int64(),
                    ),
                }
            )

    def latest(self, window: timedelta) -> list[tuple[str, Vehicle]]:
        """Vehicles that reported within ``window`` of the clock (a copy of their state)."""
        with self._lock:
            if self.clock is None:
                return []
            since = self.clock - window
            return [
                (k, Vehicle(v.ts, v.lat, v.lon, v.occupied, v.heading))
                for k, v in sorted(self.vehicles.items())
                if v.ts >= since
            ]

    def prune(self) -> None:
        """Forget counts older than ``KEEP_DAYS`` before the clock (memory stays flat)."""
        with self._lock:
            if self.clock is None:
                return
            cut = self.clock - timedelta(days=KEEP_DAYS)
            for k in [k for k in self.pickups if k[2] < cut]:
                del self.pickups[k]
            seal = self.slotting.floor(self.clock - SEAL_AFTER)
            for unit, sets in (("h3", self.vacant), ("road", self.vacant_road)):
                for key in [k for k in sets if k[1] < seal]:
                    self.sealed[unit][key] = len(sets.pop(key))
                for key in [k for k in self.sealed[unit] if k[1] < cut]:
                    del self.sealed[unit][key]
            self.sealed_before = seal
            for k3 in [k for k in self.reported if k[1] < cut]:
                del self.reported[k3]
