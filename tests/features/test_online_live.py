"""Live counts spliced into the online feature state (``SlotFeatures.set_live``).

On the hand-built road network of ``tests/roads/small_network.py`` (7 segments, road-hop
neighbours) with four days of random counts (Fri 16 – Mon 19 May 2008, Pacific time): the
features of any slot s of the last day, computed from a state that holds the history before
that day plus the day's slots before s set live, must equal those of a state built from all
the counts — every feature of slot s depends only on slots before s. A later ``set_live``
replaces the earlier one: the result equals a state built from the new counts alone.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pytest

from taxinav.calendar import local_midnight
from taxinav.features import FEATURES
from taxinav.features.online import SlotFeatures, unit_inputs
from taxinav.features.slots import Slotting
from taxinav.roads import build_graph, read_osm
from taxinav.roads.graph import RoadGraph
from tests.roads.small_network import write_osm

TZ = ZoneInfo("America/Los_Angeles")
ORIGIN = local_midnight(date(2008, 5, 16), TZ)
DAYS = 4
PER_DAY = 144
N_SLOTS = DAYS * PER_DAY
FIRST = 3 * PER_DAY  # Monday 19 May, the live day
END = ORIGIN + timedelta(days=DAYS)


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> RoadGraph:
    path: Path = tmp_path_factory.mktemp("osm") / "small.osm"
    return build_graph(read_osm(write_osm(path)), h3_resolution=9)


def dense_counts(n_units: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """[units, slots] pickups and vacant vehicles, mostly zero."""
    rng = np.random.default_rng(seed)
    pickups = rng.poisson(0.6, (n_units, N_SLOTS)).astype(np.float64)
    vacant = rng.poisson(1.2, (n_units, N_SLOTS)).astype(np.float64)
    return pickups, vacant


def table(pickups: np.ndarray, vacant: np.ndarray, upto: int = N_SLOTS) -> pa.Table:
    """The counts table of slots < ``upto``: one row per unit and slot with any count."""
    u, s = np.nonzero((pickups[:, :upto] > 0) | (vacant[:, :upto] > 0))
    starts = [ORIGIN + timedelta(minutes=10 * int(k)) for k in s]
    return pa.table(
        {
            "unit_id": pa.array([str(int(i)) for i in u], pa.string()),
            "slot_start": pa.array(starts, pa.timestamp("us", tz="UTC")),
            "pickups": pa.array(pickups[u, s].astype(np.int64)),
            "vacant": pa.array(vacant[u, s].astype(np.int64)),
        }
    )


def state(graph: RoadGraph, counts: pa.Table) -> SlotFeatures:
    return SlotFeatures(unit_inputs(graph, "road", counts, ORIGIN, END, Slotting(10, 3), 9, TZ))


@pytest.fixture(scope="module")
def counts(graph: RoadGraph) -> tuple[np.ndarray, np.ndarray]:
    return dense_counts(graph.n_segments, seed=21)


@pytest.fixture(scope="module")
def full(graph: RoadGraph, counts: tuple[np.ndarray, np.ndarray]) -> SlotFeatures:
    return state(graph, table(*counts))


def test_the_state_holds_the_counts_it_was_built_from(
    graph: RoadGraph, counts: tuple[np.ndarray, np.ndarray], full: SlotFeatures
) -> None:
    pickups, vacant = counts
    assert full.n_slots == N_SLOTS and full.per_day == PER_DAY
    assert full.units == [str(i) for i in range(7)]
    np.testing.assert_array_equal(full.n.toarray(), pickups)
    np.testing.assert_array_equal(full.sup.toarray(), vacant)
    # the features are not trivially empty: the live day has neighbour sums and day means
    row = full.row(FIRST + 40)
    col = {f: row[:, i] for i, f in enumerate(FEATURES)}
    assert np.isfinite(col["nb1_r30"]).all() and col["nb1_r30"].sum() > 0
    assert np.isfinite(col["nb2_r60"]).all() and col["nb2_r60"].sum() > 0
    assert np.isfinite(col["ha_dayoff"]).all()  # Friday the 16th: a working day too
    assert np.isnan(col["ha_weekday"]).all()  # but no earlier Monday
    assert np.isnan(col["week"]).all()  # and no day a week before
    assert col["weekday"][0] == 0.0 and col["day_off"][0] == 0.0


@pytest.mark.parametrize("s", [FIRST, FIRST + 1, FIRST + 2, FIRST + 3, FIRST + 7,
                               FIRST + 13, FIRST + 72, FIRST + 143])  # fmt: skip
def test_live_slots_before_s_give_the_features_of_all_counts(
    graph: RoadGraph, counts: tuple[np.ndarray, np.ndarray], full: SlotFeatures, s: int
) -> None:
    pickups, vacant = counts
    live = state(graph, table(pickups, vacant, upto=FIRST))  # history before the day
    live.set_live(FIRST, pickups[:, FIRST:s], vacant[:, FIRST:s])
    np.testing.assert_array_equal(live.row(s), full.row(s))
    assert live.n[:, s:].nnz == 0 and full.n[:, s:].nnz > 0  # the future is not in it


def test_repeated_set_live_follows_a_running_day(
    graph: RoadGraph, counts: tuple[np.ndarray, np.ndarray], full: SlotFeatures
) -> None:
    """One state refreshed slot after slot, as the closed loop does (in any order)."""
    pickups, vacant = counts
    live = state(graph, table(pickups, vacant, upto=FIRST))
    for s in [FIRST + 5, FIRST + 1, FIRST + 30, FIRST + 2, FIRST + 143, FIRST + 10]:
        live.set_live(FIRST, pickups[:, FIRST:s], vacant[:, FIRST:s])
        np.testing.assert_array_equal(live.row(s), full.row(s), err_msg=str(s))


def test_a_second_set_live_leaves_nothing_of_the_first(
    graph: RoadGraph, counts: tuple[np.ndarray, np.ndarray]
) -> None:
    pickups, vacant = counts
    other_p, other_v = dense_counts(graph.n_segments, seed=99)
    live = state(graph, table(pickups, vacant, upto=FIRST))
    live.set_live(FIRST, pickups[:, FIRST : FIRST + 100], vacant[:, FIRST : FIRST + 100])
    k = 40  # fewer slots than the first call: slots FIRST+40 … FIRST+99 go back to empty
    live.set_live(FIRST, other_p[:, FIRST : FIRST + k], other_v[:, FIRST : FIRST + k])

    p = pickups.copy()
    v = vacant.copy()
    p[:, FIRST:], v[:, FIRST:] = 0.0, 0.0
    p[:, FIRST : FIRST + k] = other_p[:, FIRST : FIRST + k]
    v[:, FIRST : FIRST + k] = other_v[:, FIRST : FIRST + k]
    built = state(graph, table(p, v))
    np.testing.assert_array_equal(live.n.toarray(), p)
    np.testing.assert_array_equal(live.sup.toarray(), v)
    for name in ("nb1_n", "nb2_n", "nb1_sup"):
        np.testing.assert_array_equal(getattr(live, name).toarray(),
                                      getattr(built, name).toarray(), err_msg=name)  # fmt: skip
    for s in range(FIRST, N_SLOTS):
        np.testing.assert_array_equal(live.row(s), built.row(s), err_msg=str(s))
    day = list(range(FIRST - PER_DAY, N_SLOTS))
    np.testing.assert_array_equal(live.y(day), built.y(day))


def test_neighbour_sums_of_live_counts_follow_the_road_hops(graph: RoadGraph) -> None:
    """One live pickup on one segment shows in nb1_r30 of exactly its ring-1 neighbours."""
    zero = np.zeros((7, N_SLOTS))
    empty = state(graph, table(zero, zero))
    pickups = np.zeros((7, 2))
    pickups[0, 1] = 1.0
    empty.set_live(FIRST, pickups, np.zeros((7, 2)))
    row = empty.row(FIRST + 2)
    nb1 = row[:, FEATURES.index("nb1_r30")]
    succ = {int(x) for x in graph.successors(0)}
    pred = {s for s in range(7) if 0 in graph.successors(s).tolist()}
    ring1 = (succ | pred) - {0}
    np.testing.assert_array_equal(nb1, [1.0 if u in ring1 else 0.0 for u in range(7)])
    assert row[0, FEATURES.index("r10")] == 1.0 and row[1:, FEATURES.index("r10")].sum() == 0


def test_live_slots_beyond_the_state_are_refused(
    graph: RoadGraph, counts: tuple[np.ndarray, np.ndarray]
) -> None:
    live = state(graph, table(*counts, upto=FIRST))
    live.set_live(FIRST, np.zeros((7, PER_DAY)), np.zeros((7, PER_DAY)))  # up to the end
    with pytest.raises(ValueError, match="beyond"):
        live.set_live(FIRST, np.zeros((7, PER_DAY + 1)), np.zeros((7, PER_DAY + 1)))


def test_counts_outside_the_period_are_left_out(graph: RoadGraph) -> None:
    t = pa.table(
        {
            "unit_id": ["2", "2", "5", "9"],
            "slot_start": pa.array(
                [ORIGIN - timedelta(minutes=10), ORIGIN + timedelta(minutes=25), END, ORIGIN],
                pa.timestamp("us", tz="UTC"),
            ),
            "pickups": [4, 3, 6, 8],
            "vacant": [1, 2, 1, 1],
        }
    )
    s = state(graph, t)
    n = s.n.toarray()
    assert n[2, 2] == 3 and n.sum() == 3  # 00:25 is in slot 2; unit 9 does not exist
    assert s.sup.toarray().sum() == 2


def test_unit_inputs_depend_on_the_instant_not_on_the_origins_time_zone(
    graph: RoadGraph, counts: tuple[np.ndarray, np.ndarray]
) -> None:
    local = ORIGIN.astimezone(TZ)  # 2008-05-16 00:00-07:00
    assert local == ORIGIN
    t = table(*counts)
    a = unit_inputs(graph, "road", t, ORIGIN, END, Slotting(10, 3), 9, TZ)
    b = unit_inputs(graph, "road", t, local, END, Slotting(10, 3), 9, TZ)
    assert b.counts.to_pylist() == a.counts.to_pylist()
