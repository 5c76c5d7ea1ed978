"""What a deployed service would have received from a simulated fleet, and nothing more.

Each vehicle reports one GPS fix every ``interval_s`` (its phase drawn from the seed), on the
segment it is then driving. The service learns of a trip only when it ends: the pickup is
counted once the drop-off fix arrives (as ``serve/live.py`` does), in the slot of the first
occupied fix. A hail that nobody took is never seen. Vacant supply is the number of distinct
vehicles whose vacant fixes fall on a segment in a slot. A vehicle drops out of the vacant
fleet at its first fix after a pickup, or when it leaves the area.
"""

from __future__ import annotations

import heapq

import numpy as np
from numpy.typing import NDArray

from taxinav.sim.engine import FleetView
from taxinav.sim.events import Kind

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
LIVE_WINDOW_S = 300.0  # a vacant fix older than this no longer places a taxi


class FixStream:
    """Fixes, known pickups and vacant supply of one simulated day, from the engine's view."""

    def __init__(self, n_segments: int, slot_s: float, n_slots: int, interval_s: float,
                 seed: int) -> None:  # fmt: skip
        self.n_segments = n_segments
        self.slot_s = slot_s
        self.interval_s = interval_s
        self._rng = np.random.default_rng([seed, 2])
        self.phase = np.zeros(0)
        self.pickups = np.zeros((n_segments, n_slots))  # known pickups by pickup slot
        self.vacant = np.zeros((n_segments, n_slots))  # distinct vacant vehicles
        self._seen: set[tuple[int, int, int]] = set()  # (slot, segment, vehicle)
        self.fix_t: dict[int, float] = {}  # vacant vehicles: time of their last vacant fix
        self.fix_segment: dict[int, int] = {}
        self._open: dict[int, tuple[float, int]] = {}  # vehicle → (first occupied fix, segment)
        self._pending: list[tuple[float, int, int]] = []  # (known at, slot, segment)
        self._drop_out: list[tuple[float, int]] = []  # (time, vehicle) leaving the vacant set
        self._log_at = 0
        self._last_t = -np.inf

    def _phases(self, upto: int) -> None:
        if upto >= self.phase.size:
            more = self._rng.random(upto + 1 - self.phase.size) * self.interval_s
            self.phase = np.concatenate([self.phase, more])

    def next_fix(self, vehicle: int, t: float) -> float:
        """The vehicle's first fix at or after ``t``."""
        self._phases(vehicle)
        p = float(self.phase[vehicle])
        return p + float(np.ceil((t - p) / self.interval_s)) * self.interval_s

    def update(self, view: FleetView) -> None:
        """Take in what happened up to ``view.t``."""
        t = view.t
        self._read_log(view)
        while self._pending and self._pending[0][0] <= t:
            _, slot, seg = heapq.heappop(self._pending)
            if 0 <= slot < self.pickups.shape[1]:
                self.pickups[seg, slot] += 1
        while self._drop_out and self._drop_out[0][0] <= t:
            _, v = heapq.heappop(self._drop_out)
            if self.fix_t.get(v, np.inf) <= t:
                self.fix_t.pop(v, None)
                self.fix_segment.pop(v, None)
        if view.vehicle.size:
            self._phases(int(view.vehicle.max()))
            p = self.phase[view.vehicle]
            fix = p + np.floor((t - p) / self.interval_s) * self.interval_s
            due = fix > self._last_t
            for v, s, f in zip(view.vehicle[due].tolist(), view.segment[due].tolist(),
                               fix[due].tolist(), strict=True):  # fmt: skip
                self.fix_t[v], self.fix_segment[v] = f, s
                slot = int(f // self.slot_s)
                if 0 <= slot < self.vacant.shape[1] and (slot, s, v) not in self._seen:
                    self._seen.add((slot, s, v))
                    self.vacant[s, slot] += 1
        self._last_t = t

    def _read_log(self, view: FleetView) -> None:
        log = view.log
        for i in range(self._log_at, len(log.t)):
            kind, v = log.kind[i], log.vehicle[i]
            if kind == Kind.PICKUP:
                first = self.next_fix(v, log.t[i])
                self._open[v] = (first, log.segment[i])
                heapq.heappush(self._drop_out, (first, v))
            elif kind == Kind.DROPOFF and v in self._open:
                first, seg = self._open.pop(v)
                known = self.next_fix(v, log.t[i])
                heapq.heappush(self._pending, (known, int(first // self.slot_s), seg))
            elif kind == Kind.LEAVE:
                self.fix_t.pop(v, None)
                self.fix_segment.pop(v, None)
        self._log_at = len(log.t)

    def vacant_fleet(self, t: float) -> tuple[IntArray, IntArray]:
        """Vehicles whose last fix, within the live window, was vacant, and its segment."""
        live = [(v, self.fix_segment[v]) for v, f in self.fix_t.items() if t - f <= LIVE_WINDOW_S]
        if not live:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        arr = np.array(sorted(live), dtype=np.int64)
        return arr[:, 0], arr[:, 1]
