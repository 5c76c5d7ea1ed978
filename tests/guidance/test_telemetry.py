"""The fix stream: what a deployed service would know of a simulated fleet, checked against
times computed by hand from the rules (one fix per ``interval_s`` at phase + k·interval;
a pickup known once its drop-off fix arrives, in the slot of its first occupied fix; vacant
supply as distinct vehicles; a vacant fix placing a taxi for at most 300 s).

Most tests fix the phases by hand (5 s and 17 s with 60 s between fixes, 600 s slots) so
every fix time is exact: vehicle 0 reports at 5, 65, 125, …, vehicle 1 at 17, 77, 137, …
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from taxinav.guidance.telemetry import FixStream
from taxinav.sim.engine import FleetView
from taxinav.sim.events import EventLog, Kind

SLOT_S = 600.0
INTERVAL_S = 60.0


def view(t: float, log: EventLog, fleet: dict[int, int], order: list[int] | None = None
         ) -> FleetView:  # fmt: skip
    """The engine's view at ``t``: ``fleet`` maps each vacant vehicle to its segment."""
    vehicles = order if order is not None else sorted(fleet)
    v = np.array(vehicles, dtype=np.int64)
    s = np.array([fleet[x] for x in vehicles], dtype=np.int64)
    none = np.zeros(v.size, dtype=bool)
    return FleetView(t, v, s, np.zeros(v.size), none, none.copy(), log)


def stream_with(phases: list[float], n_segments: int = 4, n_slots: int = 6) -> FixStream:
    stream = FixStream(n_segments, SLOT_S, n_slots, INTERVAL_S, seed=0)
    stream.phase = np.array(phases, dtype=np.float64)
    return stream


def ticks(a: float, b: float, step: float = 10.0) -> list[float]:
    """a, a + step, …, up to and including b."""
    return [a + i * step for i in range(int(round((b - a) / step)) + 1)]


def test_next_fix_follows_the_phase() -> None:
    stream = stream_with([5.0, 17.0])
    assert stream.next_fix(0, 0.0) == 5.0
    assert stream.next_fix(0, 5.0) == 5.0  # at or after
    assert stream.next_fix(0, 5.5) == 65.0
    assert stream.next_fix(0, 590.0) == 605.0
    assert stream.next_fix(1, 590.0) == 617.0
    assert stream.next_fix(1, 1217.0) == 1217.0
    assert stream.next_fix(1, 1230.0) == 1277.0


def test_a_pickup_is_counted_only_after_its_drop_off_fix_in_its_first_occupied_slot() -> None:
    # Vehicle 0 (fixes at 5 + 60k) cruises vacant on segment 2, takes a passenger there at
    # 590 and drops it on segment 3 at 1230. Its first fix after the pickup is at 605
    # (slot 1, not the pickup's slot 0); the drop-off is reported by the fix at 1265.
    stream = stream_with([5.0])
    log = EventLog()
    for t in ticks(10.0, 580.0):
        stream.update(view(t, log, {0: 2}))
        assert stream.pickups.sum() == 0
    log.add(590.0, Kind.PICKUP, vehicle=0, request=0, segment=2, value=12.0)
    for t in ticks(590.0, 1220.0):
        stream.update(view(t, log, {}))
        assert stream.pickups.sum() == 0, t
    log.add(1230.0, Kind.DROPOFF, vehicle=0, segment=3)
    for t in ticks(1230.0, 1260.0):
        stream.update(view(t, log, {0: 3}))
        assert stream.pickups.sum() == 0, t  # trip over, but no fix has reported it yet
    stream.update(view(1265.0, log, {0: 3}))
    expected = np.zeros((4, 6))
    expected[2, 1] = 1
    np.testing.assert_array_equal(stream.pickups, expected)
    for t in ticks(1270.0, 1800.0):
        stream.update(view(t, log, {0: 3}))
    np.testing.assert_array_equal(stream.pickups, expected)  # counted once
    # Vacant: fixes 5 … 545 on segment 2 (slot 0), then 1265 … 1745 on segment 3 (slot 2).
    vacant = np.zeros((4, 6))
    vacant[2, 0] = vacant[3, 2] = 1
    np.testing.assert_array_equal(stream.vacant, vacant)


def test_a_pickup_leaves_the_vacant_fleet_at_its_first_fix_after_the_pickup() -> None:
    stream = stream_with([5.0])
    log = EventLog()
    for t in ticks(10.0, 580.0):
        stream.update(view(t, log, {0: 2}))
    log.add(590.0, Kind.PICKUP, vehicle=0, request=0, segment=2)
    for t in (590.0, 600.0):
        stream.update(view(t, log, {}))
        # the service has not had a fix since the pickup: still vacant on 2 (fix at 545)
        v, s = stream.vacant_fleet(t)
        assert v.tolist() == [0] and s.tolist() == [2]
    stream.update(view(605.0, log, {}))
    assert stream.vacant_fleet(605.0)[0].size == 0
    for t in ticks(610.0, 1220.0):
        stream.update(view(t, log, {}))
    log.add(1230.0, Kind.DROPOFF, vehicle=0, segment=3)
    for t in ticks(1230.0, 1260.0):
        # its last fix (1205) came before the update at 1220, during the trip: none due
        stream.update(view(t, log, {0: 3}))
        assert stream.vacant_fleet(t)[0].size == 0
    stream.update(view(1265.0, log, {0: 3}))  # the fix at 1265 shows it vacant on 3
    v, s = stream.vacant_fleet(1265.0)
    assert v.tolist() == [0] and s.tolist() == [3]
    assert stream.fix_t[0] == 1265.0


def test_seeded_phase_puts_the_pickup_in_the_slot_of_its_first_fix() -> None:
    stream = FixStream(2, SLOT_S, 6, INTERVAL_S, seed=3)
    stream._phases(0)
    p = float(stream.phase[0])
    assert 0.0 <= p < INTERVAL_S
    t_pickup, t_drop = 590.0, 1500.0
    first = p + math.ceil((t_pickup - p) / INTERVAL_S) * INTERVAL_S
    known = p + math.ceil((t_drop - p) / INTERVAL_S) * INTERVAL_S
    assert t_pickup <= first < t_pickup + INTERVAL_S and t_drop <= known < t_drop + 60
    log = EventLog()
    stream.update(view(100.0, log, {0: 1}))
    log.add(t_pickup, Kind.PICKUP, vehicle=0, segment=1)
    log.add(t_drop, Kind.DROPOFF, vehicle=0, segment=0)
    stream.update(view(known - 0.5, log, {0: 0}))
    assert stream.pickups.sum() == 0
    stream.update(view(known, log, {0: 0}))
    assert stream.pickups[1, int(first // SLOT_S)] == 1
    assert stream.pickups.sum() == 1


def test_lost_or_waiting_requests_and_trips_not_yet_ended_are_never_counted() -> None:
    stream = stream_with([5.0, 17.0])
    log = EventLog()
    events = [  # logged as the engine would, at the tick they happen in
        (50.0, Kind.REQUEST, -1, 0, 1),
        (60.0, Kind.REQUEST, -1, 1, 2),  # still waiting at the end
        (70.0, Kind.REQUEST, -1, 2, 3),
        (75.0, Kind.PICKUP, 1, 2, 3),  # vehicle 1's trip never ends
        (350.0, Kind.LOST, -1, 0, 1),
    ]
    for t in ticks(10.0, 3590.0):
        while events and events[0][0] <= t:
            te, kind, v, r, seg = events.pop(0)
            log.add(te, kind, vehicle=v, request=r, segment=seg)
        stream.update(view(t, log, {0: 1, 1: 3} if t < 75.0 else {0: 1}))
        if t == 70.0:
            assert stream.vacant_fleet(t)[0].tolist() == [0, 1]
        if t == 80.0:  # vehicle 1's first fix after the pickup was at 77
            assert stream.vacant_fleet(t)[0].tolist() == [0]
    assert stream.pickups.sum() == 0


def test_vacant_supply_counts_distinct_vehicles_per_segment_and_slot() -> None:
    # Vehicle 0 on segment 1 before 300 s, on segment 0 after; vehicle 1 always on 1.
    stream = stream_with([5.0, 17.0])
    log = EventLog()
    for t in ticks(10.0, 1190.0):
        stream.update(view(t, log, {0: 1 if t < 300.0 else 0, 1: 1}))
    expected = np.zeros((4, 6))
    expected[1, 0] = 2  # two vehicles, ten fixes each, in slot 0 on segment 1
    expected[0, 0] = 1  # vehicle 0's fixes 305 … 545
    expected[0, 1] = 1  # vehicle 0's fixes 605 … 1145
    expected[1, 1] = 1  # vehicle 1's fixes 617 … 1157
    np.testing.assert_array_equal(stream.vacant, expected)


def test_only_the_latest_fix_since_the_last_update_is_recorded() -> None:
    # Updates at 100 and 1300 only: the second sees fixes 125 … 1265 due, records 1265.
    stream = stream_with([5.0])
    log = EventLog()
    stream.update(view(100.0, log, {0: 2}))  # fix 65 → slot 0
    stream.update(view(1300.0, log, {0: 2}))  # fix 1265 → slot 2 (slot 1 never seen)
    # likewise a vehicle seen vacant after a trip: its latest fix since the last update
    log.add(1310.0, Kind.PICKUP, vehicle=0, segment=2)
    stream.update(view(1320.0, log, {}))
    log.add(1700.0, Kind.DROPOFF, vehicle=0, segment=1)
    stream.update(view(1750.0, log, {0: 1}))  # fixes 1325 … 1745 due: 1745 on segment 1
    expected = np.zeros((4, 6))
    expected[2, 0] = expected[2, 2] = expected[1, 2] = 1
    np.testing.assert_array_equal(stream.vacant, expected)
    assert stream.fix_t == {0: 1745.0} and stream.fix_segment == {0: 1}
    # the trip: first occupied fix 1325 (slot 2), known at 1745
    assert stream.pickups[2, 2] == 1 and stream.pickups.sum() == 1


def test_vacant_fleet_drops_fixes_older_than_300_s_and_sorts_by_vehicle() -> None:
    stream = stream_with([5.0, 17.0, 0.0, 30.0])
    log = EventLog()
    # vehicles listed out of order: 3 (fix 90), 1 (fix 77), 0 (fix 65)
    stream.update(view(100.0, log, {3: 2, 1: 1, 0: 3}, order=[3, 1, 0]))
    v, s = stream.vacant_fleet(100.0)
    assert v.tolist() == [0, 1, 3] and s.tolist() == [3, 1, 2]
    stream.update(view(400.0, log, {1: 1}))  # only vehicle 1 seen again: fix 377
    v, s = stream.vacant_fleet(365.0)  # vehicle 0's fix is exactly 300 s old: kept
    assert v.tolist() == [0, 1, 3] and s.tolist() == [3, 1, 2]
    v, s = stream.vacant_fleet(365.5)  # 300.5 s: dropped
    assert v.tolist() == [1, 3] and s.tolist() == [1, 2]
    v, s = stream.vacant_fleet(400.0)  # 3's fix 90 is 310 s old; 1's is 23 s
    assert v.tolist() == [1] and s.tolist() == [1]
    assert v.dtype == np.int64 and s.dtype == np.int64
    assert stream.vacant_fleet(1000.0)[0].size == 0


def test_a_vehicle_leaving_drops_out_at_once() -> None:
    stream = stream_with([5.0, 17.0])
    log = EventLog()
    stream.update(view(100.0, log, {0: 2, 1: 1}))
    log.add(120.0, Kind.LEAVE, vehicle=0, segment=2)
    stream.update(view(130.0, log, {1: 1}))
    v, s = stream.vacant_fleet(130.0)  # vehicle 0's fix (65) is only 65 s old
    assert v.tolist() == [1] and s.tolist() == [1]


def test_phases_are_deterministic_for_a_seed_and_differ_between_seeds() -> None:
    a = FixStream(3, SLOT_S, 6, INTERVAL_S, seed=11)
    b = FixStream(3, SLOT_S, 6, INTERVAL_S, seed=11)
    c = FixStream(3, SLOT_S, 6, INTERVAL_S, seed=12)
    a._phases(9)  # all ten at once …
    b.next_fix(2, 0.0)  # … or as vehicles appear
    b.next_fix(9, 0.0)
    c._phases(9)
    np.testing.assert_array_equal(a.phase, b.phase)
    assert a.phase.shape == (10,)
    assert np.all((a.phase >= 0.0) & (a.phase < INTERVAL_S))
    assert not np.array_equal(a.phase, c.phase)
    assert np.unique(a.phase).size == 10  # drawn per vehicle


@pytest.mark.parametrize("seed", [0, 1])
def test_same_seed_same_counts(seed: int) -> None:
    def run(s: int) -> tuple[np.ndarray, np.ndarray]:
        stream = FixStream(4, SLOT_S, 6, INTERVAL_S, seed=s)
        log = EventLog()
        for t in ticks(10.0, 900.0):
            if t == 400.0:
                log.add(395.0, Kind.PICKUP, vehicle=2, segment=0)
            if t == 500.0:
                log.add(495.0, Kind.DROPOFF, vehicle=2, segment=1)
            fleet = {0: 0, 1: int(t // 200) % 4}
            if not 395.0 <= t < 495.0:
                fleet[2] = 0 if t < 395.0 else 1
            stream.update(view(t, log, fleet))
        return stream.pickups.copy(), stream.vacant.copy()

    p1, v1 = run(seed)
    p2, v2 = run(seed)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(v1, v2)
    assert p1.sum() == 1  # the one trip, dropped off long before 900 s
