"""Radio dispatch on tiny graphs whose shortest paths are known by hand."""

from __future__ import annotations

import numpy as np

from taxinav.sim import Network, Presence, RandomWalk, SimConfig, Simulation, World
from taxinav.sim.dispatch import Router, eta_s
from tests.sim.tiny import requests, world


def _branch() -> Network:
    """0 → {1, 2}; 1 → 3; 2 → 3; 3 → 0. Times 20, 30, 40, 10 s; each near only itself."""
    return Network(
        succ_indptr=np.array([0, 2, 3, 4, 5]), succ_indices=np.array([1, 2, 3, 3, 0]),
        travel_s=np.array([20.0, 30.0, 40.0, 10.0]), length_m=np.array([200.0, 300.0, 400.0,
                                                                        100.0]),
        near_indptr=np.arange(5), near_indices=np.arange(4),
    )  # fmt: skip


def test_time_to_a_target_by_hand() -> None:
    # From entering s to entering segment 2: 2 → 0; 0 → 20 (drive 0); 3 → 10 + 20;
    # 1 → 30 + 10 + 20.
    got = Router(_branch(), limit_s=1000.0).time_to(np.array([2]))
    assert got.tolist() == [20.0, 60.0, 0.0, 30.0]


def test_time_to_is_cut_at_the_limit() -> None:
    got = Router(_branch(), limit_s=25.0).time_to(np.array([2]))
    assert got[0] == 20.0 and np.isinf(got[1]) and np.isinf(got[3])


def test_next_toward_takes_the_shortest_branch() -> None:
    router = Router(_branch(), limit_s=1000.0)
    to_1 = router.time_to(np.array([1]))
    to_2 = router.time_to(np.array([2]))
    assert router.next_toward(0, to_1) == 1
    assert router.next_toward(0, to_2) == 2


def test_eta_subtracts_the_part_of_the_segment_already_driven() -> None:
    time_to = np.array([20.0, 60.0, 0.0, 30.0])
    # On 0 with 5 of its 20 s left → 5 s; on 3 with all 10 s left → 30 s; on the target → 0.
    got = eta_s(time_to, np.array([0, 3, 2]), np.array([5.0, 10.0, 7.0]),
                np.array([20.0, 10.0, 40.0]))  # fmt: skip
    assert got.tolist() == [5.0, 30.0, 0.0]


def _taxis(segments: list[int]) -> Presence:
    n = len(segments)
    return Presence(
        vehicle=np.arange(n), enter_t=np.zeros(n), leave_t=np.full(n, 10_000.0),
        segment=np.array(segments), busy_until=np.full(n, np.nan), free_segment=np.full(n, -1),
    )  # fmt: skip


def _run(
    w: World, seed: int, share: float = 1.0, patience_s: float = 300.0
) -> list[tuple[float, str, int, int]]:
    sim = Simulation(w, [RandomWalk(w.network)], np.zeros(len(w.presence), dtype=np.int64),
                     SimConfig(patience_s=patience_s, seed=seed, dispatch_share=share))  # fmt: skip
    t = sim.run().table()
    return list(zip(t["t"].to_pylist(), t["kind"].to_pylist(), t["vehicle"].to_pylist(),
                    t["segment"].to_pylist(), strict=True))  # fmt: skip


def test_a_booked_taxi_drives_the_shortest_path_whatever_the_seed() -> None:
    # Booking on 2 at 0 s; the taxi enters at the head of 0 (20 s), so a random walk would
    # take branch 1 half the time. Dispatched, it turns into 2 at 20 s and boards there.
    w = world(_branch(), requests([(0.0, 2, 3, 60.0, 9.0)]), _taxis([0]))
    for seed in range(6):
        ev = _run(w, seed)
        assert [e for e in ev if e[1] in ("assign", "pickup")] == [
            (10.0, "assign", 0, 2),
            (20.0, "pickup", 0, 2),
        ]


def test_the_taxi_that_arrives_first_is_sent() -> None:
    # Taxi 0 enters 1 (60 s from entering 2), taxi 1 enters 3 (30 s): taxi 1 goes.
    w = world(_branch(), requests([(0.0, 2, 3, 60.0, 9.0)]), _taxis([1, 3]))
    picks = [e for e in _run(w, 0) if e[1] == "pickup"]
    assert picks == [(30.0, "pickup", 1, 2)]


def test_a_booked_taxi_passes_street_hails_by() -> None:
    # Booking on 2 at 0 s and a hail on 0 at 5 s: the taxi is on 0 but committed, so it
    # first serves the booking (boards at 20 s) and the hail waits.
    req = requests([(0.0, 2, 3, 60.0, 9.0), (5.0, 0, 1, 30.0, 5.0)])
    w = world(_branch(), req, _taxis([0]), horizon_s=600.0)
    # A seed whose draw books the first request only (bookings use their own stream).
    seed = next(s for s in range(100) if _books(s, [True, False]))
    picks = [e for e in _run(w, seed, share=0.5) if e[1] == "pickup"]
    # Drop-off at 80 s on 3, then 3 (10 s) → entering 0 at 90 s serves the hail.
    assert picks == [(20.0, "pickup", 0, 2), (90.0, "pickup", 0, 0)]


def _books(seed: int, pattern: list[bool]) -> bool:
    draw = np.random.default_rng([seed, 1]).random(len(pattern))
    return bool(((draw < 0.5) == np.array(pattern)).all())


def test_a_booking_no_taxi_can_reach_in_time_is_lost_without_sending_anyone() -> None:
    # From 1 the booking on 2 is 60 s away; the passenger waits only 40 s.
    w = world(_branch(), requests([(0.0, 2, 3, 60.0, 9.0)]), _taxis([1]))
    ev = _run(w, 0, patience_s=40.0)
    assert [e[1] for e in ev if e[1] in ("assign", "pickup", "lost")] == ["lost"]


def test_no_bookings_at_share_zero() -> None:
    w = world(_branch(), requests([(0.0, 2, 3, 60.0, 9.0)]), _taxis([0]))
    assert not [e for e in _run(w, 0, share=0.0) if e[1] == "assign"]
