"""The heatmap policy on a tiny network split into three cells, with hand-computed answers.

The network (segment: cell, seconds to drive, successors)::

    0: A 10 → 1, 2      1: A 10 → 3        2: A 60 → 3
    3: B 10 → 4         4: C 10 → 5, 6     5: C 10 → 4, 6      6: B 10 → 0

Cells A, B, C lie on a north-south line, 500 m apart (A to C: 1000 m). From 0 the shortest
way into C is 0 → 1 → 3 → 4 (30 s; via 2 it is 80 s); inside C the only moves that stay in
it are 4 → 5 and 5 → 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from taxinav.guidance.heatmap import HeatmapFactory, HeatmapPolicy, cells_of_segments
from taxinav.guidance.telemetry import FixStream
from taxinav.roads.geo import haversine_m
from taxinav.settings import Settings
from taxinav.sim import EventLog, FleetView, Network, Presence, RandomWalk, SimConfig, Simulation
from taxinav.sim.dispatch import Router
from tests.sim.tiny import requests, world

A, B, C = 0, 1, 2
SUCC = [[1, 2], [3], [3], [4], [5, 6], [4, 6], [0]]
TRAVEL_S = [10.0, 10.0, 60.0, 10.0, 10.0, 10.0, 10.0]
CELL_OF = np.array([A, A, A, B, C, C, B], dtype=np.int64)
DEG_PER_500_M = 500.0 / 111_195.0  # of latitude
CELL_LAT = 37.77 + DEG_PER_500_M * np.arange(3.0)
CELL_LON = np.full(3, -122.42)


def network() -> Network:
    n = len(SUCC)
    return Network(
        succ_indptr=np.cumsum([0] + [len(s) for s in SUCC]).astype(np.int64),
        succ_indices=np.array([x for s in SUCC for x in s], dtype=np.int64),
        travel_s=np.array(TRAVEL_S), length_m=np.array(TRAVEL_S) * 10.0,
        near_indptr=np.arange(n + 1, dtype=np.int64), near_indices=np.arange(n, dtype=np.int64),
    )  # fmt: skip


@dataclass
class FixedDemand:
    """Pickups per second on each segment, the same at every time."""

    rate: np.ndarray
    label: dict[str, Any] = field(default_factory=lambda: {"source": "fixed (test)"})

    def at(self, t: float) -> np.ndarray:
        return self.rate


def rate(per_cell_pickups: dict[int, float], horizon_s: float = 1800.0) -> np.ndarray:
    """A rate putting each cell's forecast pickups (in the horizon) on its first segment."""
    out = np.zeros(len(SUCC))
    for cell, pickups in per_cell_pickups.items():
        out[np.flatnonzero(CELL_OF == cell)[0]] = pickups / horizon_s
    return out


def policy(demand: np.ndarray, radius_m: float = 1500.0,
           stream: FixStream | None = None) -> HeatmapPolicy:  # fmt: skip
    net = network()
    return HeatmapPolicy(net, CELL_OF, CELL_LAT, CELL_LON, FixedDemand(demand), stream,
                         Router(net, limit_s=3600.0), radius_m, 60.0, 1800.0)  # fmt: skip


def view(t: float, vehicles: list[tuple[int, int, bool]]) -> FleetView:
    """(vehicle, segment, mine) of every vacant taxi."""
    v, s, m = (np.array(x) for x in zip(*vehicles, strict=True))
    n = len(vehicles)
    return FleetView(t, v.astype(np.int64), s.astype(np.int64), np.zeros(n), m.astype(bool),
                     np.zeros(n, dtype=bool), EventLog())  # fmt: skip


def one_taxi_at(segment: int) -> Presence:
    return Presence(
        vehicle=np.array([0]), enter_t=np.array([0.0]), leave_t=np.array([10_000.0]),
        segment=np.array([segment]), busy_until=np.array([np.nan]), free_segment=np.array([-1]),
    )  # fmt: skip


def moves(log: EventLog, vehicle: int) -> list[int]:
    return [s for k, v, s in zip(log.kind, log.vehicle, log.segment, strict=True)
            if k == "move" and v == vehicle]  # fmt: skip


def test_taxi_drives_the_shortest_path_to_the_busy_cell_then_cruises_inside_it() -> None:
    # Only C has demand (36 pickups in the horizon), so the taxi in A targets C, takes the
    # 10-second branch (1) over the 60-second one (2), and never leaves C by 6 once there.
    p = policy(rate({C: 36.0}))
    w = world(network(), requests([]), one_taxi_at(0), horizon_s=200.0)
    log = Simulation(w, [p], np.zeros(1, dtype=np.int64), SimConfig(tick_s=10.0)).run()
    path = moves(log, 0)
    assert path[:6] == [1, 3, 4, 5, 4, 5]
    assert set(path[2:]) == {4, 5}
    assert p.target == {0: C}


@pytest.mark.parametrize(("others_in", "expected"), [(A, C), (C, A)])
def test_target_has_the_most_forecast_pickups_per_vacant_taxi(others_in: int,
                                                              expected: int) -> None:  # fmt: skip
    # A forecasts 4 pickups, C 3; our taxi waits in B (none), 500 m from both.
    # Three other vacant taxis in A: A scores 4 / (3 + 1) = 1, C 3 / (0 + 1) = 3 → C.
    # The same three in C instead: A scores 4 / 1 = 4, C 3 / 4 = 0.75 → A.
    p = policy(rate({A: 4.0, C: 3.0}))
    others = [int(s) for s in np.flatnonzero(CELL_OF == others_in)[:3]]
    others += [others[0]] * (3 - len(others))
    p.observe(view(60.0, [(0, 3, True)] + [(i + 1, s, False) for i, s in enumerate(others)]))
    assert p.target == {0: expected}
    np.testing.assert_allclose(p.score[[A, C]], [1.0, 3.0] if others_in == A else [4.0, 0.75])
    # From B the way to either cell starts with the only move, 3 → 4 (C) ...
    assert p.choose(0, 3, 60.0, np.random.default_rng(0)) == 4
    if expected == A:  # ... and from C, towards A, it leaves by 6 (then 6 → 0).
        assert p.choose(0, 4, 70.0, np.random.default_rng(0)) == 6


def test_taxis_driving_to_a_booking_are_not_supply() -> None:
    # Without a stream the simulator's view is used: the three taxis in A are on their way
    # to bookings, so A scores 4 / (0 + 1) = 4 against C's 3 / 1 = 3.
    p = policy(rate({A: 4.0, C: 3.0}))
    v = view(60.0, [(0, 3, True), (1, 0, False), (2, 1, False), (3, 2, False)])
    committed = np.array([False, True, True, True])
    p.observe(FleetView(v.t, v.vehicle, v.segment, v.remaining, v.mine, committed, v.log))
    assert p.target == {0: A}


@pytest.mark.parametrize(("radius_m", "expected"), [(700.0, B), (1500.0, C)])
def test_a_cell_beyond_the_radius_is_never_the_target(radius_m: float, expected: int) -> None:
    # C (1000 m from A) forecasts 100 pickups, B (500 m) 1: within 700 m only B and A.
    p = policy(rate({B: 1.0, C: 100.0}), radius_m=radius_m)
    for segment in np.flatnonzero(CELL_OF == A).tolist():
        p.last_refresh = -np.inf
        p.observe(view(60.0, [(0, segment, True)]))
        assert p.target == {0: expected}


def test_without_demand_in_reach_the_taxi_stays_in_its_own_cell() -> None:
    # All scores within 700 m are 0: the tie goes to the nearest cell, the taxi's own.
    p = policy(rate({C: 100.0}), radius_m=700.0)
    p.observe(view(60.0, [(0, 1, True)]))
    assert p.target == {0: A}


def test_cruising_prefers_the_cell_then_the_busiest_way_out() -> None:
    # No target yet. From 4 both 5 (in C) and 6 (in B, busier) are legal: it stays in C.
    demand = np.zeros(len(SUCC))
    demand[6] = 1.0
    p = policy(demand)
    rng = np.random.default_rng(0)
    assert {p.choose(0, 4, 0.0, rng) for _ in range(50)} == {5}
    # From 0 both successors are in A: drawn by rate (+ a tiny epsilon), so 1 almost always.
    demand[[1, 2]] = [0.01, 0.0]
    picks = [p.choose(0, 0, 0.0, rng) for _ in range(200)]
    assert picks.count(1) >= 199
    # From 3 (B) the only successor is in C: the way out.
    assert p.choose(0, 3, 0.0, rng) == 4
    # With 1 and 2 put in B, nothing from 0 stays in A: the busier way out, 1.
    net = network()
    other = CELL_OF.copy()
    other[[1, 2]] = B
    demand[[1, 2]] = [0.01, 0.02]
    q = HeatmapPolicy(net, other, CELL_LAT, CELL_LON, FixedDemand(demand), None,
                      Router(net, limit_s=3600.0), 1500.0, 60.0, 1800.0)  # fmt: skip
    assert {q.choose(0, 0, 0.0, rng) for _ in range(20)} == {2}


def test_unreachable_target_drifts_on_legal_moves() -> None:
    p = policy(rate({C: 1.0}))
    p.target = {0: C}
    p.paths[C] = np.full(len(SUCC), np.inf)  # as if the router found no way there
    rng = np.random.default_rng(0)
    assert {p.choose(0, 0, 0.0, rng) for _ in range(50)} == {1, 2}


def test_choices_are_deterministic_given_the_rng() -> None:
    demand = np.full(len(SUCC), 0.01)
    picks = [[policy(demand).choose(0, 0, 0.0, rng) for _ in range(20)]
             for rng in (np.random.default_rng(7), np.random.default_rng(7))]  # fmt: skip
    assert picks[0] == picks[1] and set(picks[0]) == {1, 2}


def test_cells_of_segments_in_san_francisco() -> None:
    # Civic Center and Nob Hill-ish, 0.018° of latitude (2.0 km) apart.
    lat, lon = np.array([37.7793, 37.7973]), np.array([-122.4193, -122.4193])
    assert haversine_m(lat[0], lon[0], lat[1], lon[1]) == pytest.approx(2000.0, rel=0.01)
    cell_of, cell_lat, cell_lon = cells_of_segments(lat, lon, 8)
    assert cell_of.dtype == np.int64 and sorted(cell_of.tolist()) == [0, 1]
    assert cell_lat.shape == cell_lon.shape == (2,)
    for i in range(2):  # a resolution-8 cell has a 461 m edge: its centre is that close
        c = cell_of[i]
        assert haversine_m(lat[i], lon[i], cell_lat[c], cell_lon[c]) < 500.0


@pytest.mark.parametrize("with_stream", [False, True])
def test_simulation_moves_are_legal(with_stream: bool) -> None:
    net = network()
    stream = FixStream(net.n_segments, 600.0, 2, 60.0, seed=0) if with_stream else None
    p = policy(rate({A: 2.0, C: 6.0}), stream=stream)
    p.refresh_s = 30.0
    hails = [(t, s, (s + 3) % 7, 40.0, 9.0) for t, s in
             [(50.0, 4), (120.0, 2), (200.0, 5), (300.0, 3), (420.0, 4), (500.0, 6)]]  # fmt: skip
    presence = Presence(
        vehicle=np.arange(4), enter_t=np.array([0.0, 0.0, 30.0, 60.0]),
        leave_t=np.full(4, 10_000.0), segment=np.array([0, 2, 6, 3]),
        busy_until=np.full(4, np.nan), free_segment=np.full(4, -1),
    )  # fmt: skip
    w = world(net, requests(hails), presence, horizon_s=900.0)
    group = np.array([0, 0, 1, 0])
    log = Simulation(w, [p, RandomWalk(net)], group, SimConfig(tick_s=10.0, seed=3)).run()
    at: dict[int, int] = {}
    n_moves = 0
    for kind, v, s in zip(log.kind, log.vehicle, log.segment, strict=True):
        if kind in ("enter", "dropoff"):
            at[v] = s
        elif kind == "move":
            assert s in net.successors(at[v]).tolist(), (v, at[v], s)
            at[v] = s
            n_moves += group[v] == 0
    assert n_moves > 10
    assert p.last_refresh > 0 and p.target
    assert set(p.target) <= {0, 1, 3}  # only its own taxis get a target


@dataclass
class FakeGuided:
    """The parts of ``GuidedFactory`` the heatmap factory reads."""

    network: Network
    graph: Any
    settings: Settings = field(default_factory=Settings)
    streams: list[FixStream | None] = field(default_factory=list)

    def demand_source(self, origin: datetime, stream: FixStream | None) -> FixedDemand:
        self.streams.append(stream)
        return FixedDemand(np.zeros(self.network.n_segments), {"source": f"fixed {origin:%F}"})


@dataclass(frozen=True)
class Midpoints:
    mid_lat: np.ndarray
    mid_lon: np.ndarray


def test_factory_builds_a_day_policy_on_its_own_fix_stream() -> None:
    net = network()
    # Segments 0-2 at one SF spot, 3-6 2 km north: two resolution-8 cells.
    lat = np.where(np.arange(7) < 3, 37.7793, 37.7973)
    guided = FakeGuided(net, Midpoints(lat, np.full(7, -122.4193)))
    factory = HeatmapFactory(guided, radius_m=1000.0)  # type: ignore[arg-type]
    day = datetime(2008, 5, 22, 7, tzinfo=UTC)
    first, second = factory.for_day(day, 1), factory.for_day(day, 2)
    assert guided.streams[0] is first.stream and isinstance(first.stream, FixStream)
    assert first.stream is not second.stream and first.router is second.router
    assert first.paths is second.paths  # paths to cells are kept for the whole period
    cell = first.cell_of.tolist()
    assert cell[:3] == [cell[0]] * 3 and cell[3:] == [1 - cell[0]] * 4
    assert first.refresh_s == guided.settings.routing.refresh_s
    assert first.horizon_s == 30 * 60.0  # the default forecast horizon, 30 minutes
    assert (
        factory.label
        == second.demand_label
        == {"source": "fixed 2008-05-22", "policy": "heatmap", "resolution": 8, "radius_m": 1000.0}
    )
    assert first.near[0].tolist() == [0]  # the other cell, 2 km away, is beyond 1000 m
