"""The engine on tiny worlds whose outcomes are computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from taxinav.sim import Kind, RandomWalk, SimConfig, Simulation, World, summarize
from tests.sim.tiny import one_taxi, requests, ring, world


def _events(w: World, config: SimConfig | None = None) -> list[tuple[float, str, int, int, int]]:
    config = config or SimConfig()
    log = (
        Simulation(w, [RandomWalk(w.network)], np.zeros(len(w.presence), dtype=np.int64), config)
        .run()
        .table()
    )
    return list(
        zip(
            log["t"].to_pylist(),
            log["kind"].to_pylist(),
            log["vehicle"].to_pylist(),
            log["request"].to_pylist(),
            log["segment"].to_pylist(),
            strict=True,
        )
    )


def test_passenger_on_the_next_segment_is_served_when_the_taxi_gets_there() -> None:
    # Taxi starts at the head of segment 0 (30 s long); passenger waits on segment 1.
    net = ring()
    ev = _events(world(net, requests([(0.0, 1, 2, 100.0, 12.5)]), one_taxi()))
    pickups = [e for e in ev if e[1] == Kind.PICKUP]
    assert pickups == [(30.0, "pickup", 0, 0, 1)]
    # 100 s trip → drop-off processed at the first tick at or after 130 s, on segment 2.
    assert [(t, s) for t, k, *_, s in ev if k == Kind.DROPOFF] == [(130.0, 2)]


def test_passenger_whose_patience_runs_out_is_lost() -> None:
    # Segment 2 is reached at 60 s, but the passenger leaves after 50 s.
    w = world(ring(), requests([(0.0, 2, 0, 100.0, 10.0)]), one_taxi())
    ev = _events(w, SimConfig(patience_s=50.0))
    assert [(t, k) for t, k, *_ in ev if k in (Kind.LOST, Kind.PICKUP)] == [(50.0, "lost")]


def _two_passengers() -> pa.Table:
    """One taxi on the 3-ring; passengers at 0 s on segment 1 and at 200 s on segment 0."""
    w = world(
        ring(),
        requests([(0.0, 1, 2, 100.0, 12.5), (200.0, 0, 1, 50.0, 8.0)]),
        one_taxi(),
        horizon_s=400.0,
    )
    sim = Simulation(w, [RandomWalk(w.network)], np.zeros(1, dtype=np.int64), SimConfig())
    return sim.run().table()


def test_kpis_of_the_run() -> None:
    k = summarize(_two_passengers())
    assert (k["requests"], k["served"], k["lost"]) == (2, 2, 0)
    g = k["groups"][0]
    # Vacant 0-30 s. Drop-off at 130 s at the head of segment 2; the taxi then enters
    # 0 at 160 s, 1 at 190 s (the passenger appears on 0 at 200 s), 2 at 220 s and 0 at
    # 250 s, where it picks up: vacant 130-250 s.
    assert g["vacant_before_pickup"]["n"] == 2
    assert g["vacant_before_pickup"]["median_min"] == np.median([30 / 60, 120 / 60])
    assert g["revenue"] == 12.5 + 8.0
    # Empty driving: 1 segment of 300 m before the first pickup, 4 before the second, and
    # 3 after the last drop-off (300 s) until the horizon (400 s): 8 × 0.3 km over 2 trips.
    assert g["empty_km_per_trip"] == 8 * 0.3 / 2


def test_same_seed_gives_the_same_event_log() -> None:
    from taxinav.sim import Network

    # A branching world (0 → 1 or 2, both → 0) so the random walk really draws.
    net = Network(
        succ_indptr=np.array([0, 2, 3, 4]), succ_indices=np.array([1, 2, 0, 0]),
        travel_s=np.array([20.0, 30.0, 40.0]), length_m=np.array([200.0, 300.0, 400.0]),
        near_indptr=np.arange(4), near_indices=np.arange(3),
    )  # fmt: skip
    req = requests([(t, int(t) % 3, 0, 60.0, 5.0) for t in range(0, 3000, 97)])
    w = world(net, req, one_taxi(), horizon_s=3000.0)
    a, b = _events(w, SimConfig(seed=5)), _events(w, SimConfig(seed=5))
    c = _events(w, SimConfig(seed=6))
    assert a == b
    assert a != c


def test_occupancy_is_busy_time_over_present_time() -> None:
    # Same run as above: present 0-400 s, busy 30-130 s and 250-300 s → 150 / 400.
    log = _two_passengers()
    g = summarize(log, horizon_s=400.0)["groups"][0]
    assert g["occupancy"] == 150 / 400
    # 2 pickups in 250 vacant seconds; $20.50 in 400 s present.
    assert g["pickups_per_vacant_h"] == 2 / (250 / 3600)
    assert g["revenue_per_present_h"] == 20.5 / (400 / 3600)


def test_median_by_block_groups_spells_by_when_they_began() -> None:
    from taxinav.sim.kpi import median_by_block

    # Spells of 2, 4 and 9 minutes beginning at 01:00, 03:59 and 05:00 → blocks 0, 0, 1.
    got = median_by_block([120.0, 240.0, 540.0], [3600.0, 3600 * 4 - 60.0, 3600 * 5.0])
    assert got == {0: 3.0, 1: 9.0}


def test_a_passenger_taken_out_of_the_area_brings_the_taxi_back_later() -> None:
    from taxinav.sim import Requests

    # Hail on segment 1 at 0 s; the real trip spent 100 s inside, left at segment 2 and took
    # 50 s more outside. Pickup at 30 s → leaves at 130 s → back on segment 2 at 230 s.
    req = Requests(
        t=np.array([0.0]), segment=np.array([1]), dropoff_segment=np.array([-1]),
        duration_s=np.array([100.0]), fare=np.array([9.0]),
        exit_segment=np.array([2]), outside_s=np.array([50.0]),
    )  # fmt: skip
    ev = _events(world(ring(), req, one_taxi(), horizon_s=400.0))
    timeline = [(t, k, s) for t, k, _, _, s in ev if k in ("pickup", "dropoff", "leave", "enter")]
    assert timeline == [
        (0.0, "enter", 0),
        (30.0, "pickup", 1),
        (130.0, "dropoff", -1),
        (130.0, "leave", -1),
        (230.0, "enter", 2),
    ]


def test_booking_share_follows_the_block_of_the_local_day() -> None:
    from taxinav.sim.engine import booking_share

    shares = (0.0, 0.5, 0.0, 0.0, 0.0, 0.9)
    # Origin at local 22:00: 0 s → 22 h (block 5), 3 h later → 01 h (block 0), 7 h → 05 h.
    req = requests([(t, 0, 1, 60.0, 5.0) for t in (0.0, 3 * 3600.0, 7 * 3600.0 + 59)])
    late = world(ring(), req, one_taxi(), origin=datetime(2008, 5, 27, 22, tzinfo=UTC))
    got = booking_share(late, SimConfig(dispatch_share=shares))
    assert got.tolist() == [0.9, 0.0, 0.5]
    assert booking_share(late, SimConfig(dispatch_share=0.3)).tolist() == [0.3, 0.3, 0.3]


def test_served_share_by_block_counts_requests_by_when_they_were_made() -> None:
    from taxinav.sim.kpi import served_share_by_block

    # Requests at 01:00 (served), 02:00 (lost) and 05:00 (served after 05:10).
    t = [3600.0, 7200.0, 5 * 3600.0, 3650.0, 7500.0, 5 * 3600.0 + 600]
    kind = ["request"] * 3 + ["pickup", "lost", "pickup"]
    log = pa.table({"t": t, "kind": kind, "request": [0, 1, 2, 0, 1, 2]})
    assert served_share_by_block(log) == {0: 0.5, 1: 1.0}
