"""The fleet simulator: an injected clock ticks; vehicles and requests follow state machines.

Vehicle states: ABSENT → (enter) VACANT | OCCUPIED → ... → GONE. A vacant vehicle moves along
its segment at free-flow speed; on each segment it enters (and while it stays) it takes the
oldest waiting request on any segment within the match radius. Requests wait ``patience_s``
and are then lost. Booked requests (a configurable share) do not wait for a passing taxi:
the dispatcher sends the vacant taxi that reaches them soonest (``sim/dispatch.py``). Every
change is written to the event log.
"""

from __future__ import annotations

import bisect
import heapq
from collections import deque
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from taxinav.sim.dispatch import Router, eta_s
from taxinav.sim.events import EventLog, Kind
from taxinav.sim.policies import WAIT_S, Policy
from taxinav.sim.world import World


class State(IntEnum):
    ABSENT = 0
    VACANT = 1
    OCCUPIED = 2
    GONE = 3
    OUTSIDE = 4  # took a passenger out of the area; comes back empty


@dataclass
class SimClock:
    """Simulation time in seconds since the origin; nothing reads the wall clock."""

    now: float = 0.0
    tick_s: float = 10.0

    def advance(self) -> float:
        self.now += self.tick_s
        return self.now


@dataclass(frozen=True)
class FleetView:
    """What an observing policy is shown each tick: every vacant taxi (``committed``: driving
    to a booking), its group, and the event log so far. A policy decides how much of it a
    deployed service could know (``guidance/telemetry.py`` reduces it to GPS fixes)."""

    t: float
    vehicle: np.ndarray  # vacant vehicles (episode ids)
    segment: np.ndarray
    remaining: np.ndarray  # seconds left on the segment (simulator internals)
    mine: np.ndarray  # in the observing policy's group
    committed: np.ndarray  # on the way to a booking
    log: EventLog


@dataclass(frozen=True)
class SimConfig:
    patience_s: float = 300.0
    tick_s: float = 10.0
    seed: int = 0
    # Share of requests that are bookings (radio dispatch): one value, or one per 4-hour
    # block of the local day (bookings are a larger part of the rides before dawn).
    dispatch_share: float | tuple[float, ...] = 0.0


def booking_share(world: World, config: SimConfig) -> np.ndarray:
    """The booking probability of each of the world's requests, by the block of the local
    day it is made in (the world's origin and time zone say which hour t = 0 is)."""
    t = world.requests.t
    share = np.atleast_1d(np.asarray(config.dispatch_share, dtype=np.float64))
    if share.size == 1:
        return np.full(np.shape(t), share[0])
    block_h = 24 // share.size
    hour = (world.origin_hour + np.asarray(t) // 3600).astype(np.int64) % 24
    result: np.ndarray = share[hour // block_h]
    return result


class Simulation:
    """One run: ``world`` replayed with ``policies[group[v]]`` driving vehicle episode v."""

    def __init__(self, world: World, policies: list[Policy], group: np.ndarray,
                 config: SimConfig) -> None:  # fmt: skip
        self.world = world
        self.net = world.network
        self.policies = policies
        self.group = group
        self.config = config
        self.clock = SimClock(0.0, config.tick_s)
        self.rng = np.random.default_rng(config.seed)
        self.log = EventLog()
        n = len(world.presence)
        self.state = np.full(n, State.ABSENT, dtype=np.int8)
        self.segment = world.presence.segment.copy()
        self.remaining = np.zeros(n)  # seconds until the end of the current segment
        self.busy_until = np.full(n, np.inf)
        self.ready_at = np.zeros(n)  # when the vehicle last became vacant
        self.drop_segment = np.full(n, -1, dtype=np.int64)
        self.return_at = np.full(n, np.inf)  # OUTSIDE: when it is back in the area
        self.return_segment = np.full(n, -1, dtype=np.int64)
        self.trip_request = np.full(n, -1, dtype=np.int64)
        self.waiting: dict[int, deque[int]] = {}
        self.expiry: list[tuple[float, int]] = []
        self.taken = np.zeros(len(world.requests), dtype=bool)
        self._next_vehicle = 0
        self._next_request = 0
        # Bookings drawn from their own stream so the share does not shift cruising choices.
        draw = np.random.default_rng([config.seed, 1]).random(len(world.requests))
        self.booked = draw < booking_share(world, config)
        self.router = Router(self.net, config.patience_s) if self.booked.any() else None
        self.route_to: dict[int, np.ndarray] = {}  # booking → free-flow seconds to reach it
        self.pending: list[int] = []  # bookings without a taxi, in arrival order
        self.assigned = np.full(n, -1, dtype=np.int64)  # vehicle → booking it drives to
        # Policies that plan for their whole group (the recommender) see the fleet each tick.
        self._observers = [(i, p) for i, p in enumerate(policies) if hasattr(p, "observe")]

    # -- arrivals --------------------------------------------------------------------------
    def _enter(self, now: float) -> None:
        p = self.world.presence
        while self._next_vehicle < len(p) and p.enter_t[self._next_vehicle] <= now:
            v = self._next_vehicle
            self._next_vehicle += 1
            g = int(self.group[v])
            t = float(p.enter_t[v])
            if np.isnan(p.busy_until[v]):
                self._become_vacant(v, int(p.segment[v]), t)
                # value 0: vacant shift start here; 2: drove in vacant (a spell already running)
                crossed = p.crossed_in is not None and bool(p.crossed_in[v])
                self.log.add(
                    t,
                    Kind.ENTER,
                    vehicle=v,
                    segment=int(p.segment[v]),
                    group=g,
                    value=2.0 if crossed else 0.0,
                )
            else:
                self.state[v] = State.OCCUPIED
                self.busy_until[v] = p.busy_until[v]
                self.drop_segment[v] = p.free_segment[v]
                self.log.add(
                    t, Kind.ENTER, vehicle=v, segment=int(p.segment[v]), group=g, value=1.0
                )

    def _requests(self, now: float) -> None:
        r = self.world.requests
        while self._next_request < len(r) and r.t[self._next_request] <= now:
            k = self._next_request
            self._next_request += 1
            seg = int(r.segment[k])
            if self.router is not None and self.booked[k]:
                self.route_to[k] = self.router.time_to(self.router.served_from(seg))
                self.pending.append(k)
            else:
                self.waiting.setdefault(seg, deque()).append(k)
            heapq.heappush(self.expiry, (float(r.t[k]) + self.config.patience_s, k))
            self.log.add(
                float(r.t[k]), Kind.REQUEST, request=k, segment=seg, value=float(self.booked[k])
            )

    def _dispatch(self, now: float) -> None:
        """Each waiting booking, oldest first, gets the free taxi with the shortest drive, if
        it can arrive before the passenger gives up."""
        if not self.pending:
            return
        free = np.flatnonzero((self.state == State.VACANT) & (self.assigned < 0))
        speed = self.world.speed(now)
        travel = self.net.travel_s[self.segment[free]] / speed
        remaining = np.minimum(self.remaining[free], travel)  # a waiting taxi is at the end
        r = self.world.requests
        for k in list(self.pending):
            if free.size == 0:
                break
            eta = eta_s(self.route_to[k] / speed, self.segment[free], remaining, travel)
            i = int(np.argmin(eta))
            if not eta[i] <= float(r.t[k]) + self.config.patience_s - now:
                continue
            v = int(free[i])
            self.pending.remove(k)
            self.assigned[v] = k
            self.remaining[v] = remaining[i]
            self.log.add(now, Kind.ASSIGN, vehicle=v, request=k, segment=int(r.segment[k]),
                         group=int(self.group[v]), value=float(eta[i]))  # fmt: skip
            free, travel, remaining = (np.delete(a, i) for a in (free, travel, remaining))

    def _release(self, v: int) -> None:
        """A vehicle leaving with a booking hands it back to the dispatcher."""
        k = int(self.assigned[v])
        if k >= 0:
            self.assigned[v] = -1
            bisect.insort(self.pending, k)

    def _expire(self, now: float) -> None:
        while self.expiry and self.expiry[0][0] <= now:
            _, k = heapq.heappop(self.expiry)
            if not self.taken[k]:
                self.taken[k] = True
                self.log.add(now, Kind.LOST, request=k, segment=int(self.world.requests.segment[k]))
                if k in self.route_to:
                    del self.route_to[k]
                    self.assigned[self.assigned == k] = -1
                    if k in self.pending:
                        self.pending.remove(k)

    # -- vehicles ---------------------------------------------------------------------------
    def _become_vacant(self, v: int, seg: int, when: float) -> None:
        self.state[v] = State.VACANT
        self.ready_at[v] = when
        self.segment[v] = seg
        self.remaining[v] = self.world.travel_s(seg, when)

    def _dropoffs(self, now: float) -> None:
        for vi in np.flatnonzero((self.state == State.OCCUPIED) & (self.busy_until <= now)):
            v = int(vi)
            g = int(self.group[v])
            seg = int(self.drop_segment[v])
            t = float(self.busy_until[v])
            self.busy_until[v] = np.inf
            self.log.add(t, Kind.DROPOFF, vehicle=v, segment=seg, group=g)
            back = self._back_from_outside(v, t) if seg < 0 else np.inf
            if seg < 0 and back < self.world.presence.leave_t[v]:
                # Drove its passenger out; like the real cabs it comes back, empty, where it
                # left, after the outside leg there and back.
                self.state[v] = State.OUTSIDE
                self.return_at[v] = back
                self.log.add(t, Kind.LEAVE, vehicle=v, segment=seg, group=g)
            elif seg < 0 or t >= self.world.presence.leave_t[v]:
                # Passenger left the mapped area, or the real vehicle's shift here is over.
                self.state[v] = State.GONE
                self.log.add(t, Kind.LEAVE, vehicle=v, segment=seg, group=g)
            else:
                self._become_vacant(v, seg, t)

    def _back_from_outside(self, v: int, t: float) -> float:
        r = self.world.requests
        k = int(self.trip_request[v])
        if k < 0 or r.exit_segment is None or r.outside_s is None or r.exit_segment[k] < 0:
            return np.inf
        self.return_segment[v] = int(r.exit_segment[k])
        return t + 2.0 * float(r.outside_s[k])

    def _returns(self, now: float) -> None:
        for vi in np.flatnonzero((self.state == State.OUTSIDE) & (self.return_at <= now)):
            v = int(vi)
            t, seg = float(self.return_at[v]), int(self.return_segment[v])
            self.return_at[v] = np.inf
            self._become_vacant(v, seg, t)
            self.log.add(
                t, Kind.ENTER, vehicle=v, segment=seg, group=int(self.group[v]), value=2.0
            )  # drove in: its spell started outside, counted as cut

    def _leave(self, now: float) -> None:
        gone = (self.state == State.VACANT) & (self.world.presence.leave_t <= now)
        for v in np.flatnonzero(gone):
            self._release(int(v))
            self.state[v] = State.GONE
            self.log.add(
                float(self.world.presence.leave_t[v]),
                Kind.LEAVE,
                vehicle=int(v),
                segment=int(self.segment[v]),
                group=int(self.group[v]),
            )

    def _try_pickup(self, v: int, now: float) -> bool:
        for s in self.net.near(int(self.segment[v])):
            queue = self.waiting.get(int(s))
            while queue:
                k = queue.popleft()
                if self.taken[k]:
                    continue
                self._board(v, k, int(s), now)
                return True
        return False

    def _board(self, v: int, k: int, segment: int, now: float) -> None:
        r = self.world.requests
        when = max(now, float(r.t[k]))  # not before the passenger appeared
        self.taken[k] = True
        self.route_to.pop(k, None)
        self.assigned[v] = -1
        self.state[v] = State.OCCUPIED
        self.busy_until[v] = when + float(r.duration_s[k])
        self.drop_segment[v] = int(r.dropoff_segment[k])
        self.trip_request[v] = k
        self.log.add(when, Kind.PICKUP, vehicle=v, request=k, segment=segment,
                     group=int(self.group[v]), value=float(r.fare[k]))  # fmt: skip

    def _drive(self, v: int, now: float) -> None:
        """Spend one tick: pick up if possible, else move on, crossing segment ends."""
        t = max(now - self.config.tick_s, float(self.ready_at[v]))
        budget = now - t
        policy = self.policies[int(self.group[v])]
        while True:
            k = int(self.assigned[v])
            if k >= 0:
                if self.route_to[k][int(self.segment[v])] == 0.0:
                    self._board(v, k, int(self.world.requests.segment[k]), t)
                    return
            elif self._try_pickup(v, t):
                return
            if self.remaining[v] > budget:
                self.remaining[v] -= budget
                return
            budget -= self.remaining[v]
            t += self.remaining[v]
            seg = int(self.segment[v])
            if k >= 0 and self.router is not None:
                nxt = self.router.next_toward(seg, self.route_to[k])
            else:
                nxt = policy.choose(v, seg, t, self.rng)
            if nxt == seg:
                self.remaining[v] = getattr(policy, "wait_s", WAIT_S)
                continue
            self.log.add(
                t,
                Kind.MOVE,
                vehicle=v,
                segment=nxt,
                group=int(self.group[v]),
                value=float(self.net.length_m[seg]),
            )
            self.segment[v] = nxt
            self.remaining[v] = self.world.travel_s(nxt, t)

    def _observe(self, now: float) -> None:
        if not self._observers:
            return
        vacant = np.flatnonzero(self.state == State.VACANT)
        for gi, policy in self._observers:
            policy.observe(FleetView(now, vacant, self.segment[vacant], self.remaining[vacant],
                                     self.group[vacant] == gi, self.assigned[vacant] >= 0,
                                     self.log))  # fmt: skip

    def run(self) -> EventLog:
        horizon = self.world.horizon_s
        now = 0.0
        while now < horizon:
            now = self.clock.advance()
            self._enter(now)
            self._requests(now)
            self._dropoffs(now)
            self._returns(now)
            self._leave(now)
            self._dispatch(now)
            self._observe(now)
            for v in np.flatnonzero(self.state == State.VACANT):
                self._drive(int(v), now)
            self._expire(now)
        return self.log
