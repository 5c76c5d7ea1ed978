"""The service's parts on hand-built input: tokens and roles, the append log, the live trip
logic and per-item validation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from taxinav.features import Slotting
from taxinav.serve.auth import Auth, AuthError, check_production
from taxinav.serve.live import LiveState
from taxinav.serve.schemas import Fix, validate_items
from taxinav.serve.wal import AppendLog
from taxinav.settings import ServeSettings, TokenSpec, token_hash


def test_tokens_roles_and_a_drivers_own_vehicle() -> None:
    auth = Auth([TokenSpec(name="d", role="driver", sha256=token_hash("s3"), vehicle_id="cab1")])
    with pytest.raises(AuthError) as none:
        auth.principal(None)
    assert none.value.status == 401
    with pytest.raises(AuthError) as wrong:
        auth.principal("Bearer nope")
    assert wrong.value.status == 401
    p = auth.principal("Bearer s3")
    assert (p.role, p.vehicle_id) == ("driver", "cab1")
    Auth.allow(p, ("driver", "operator"), "cab1")
    with pytest.raises(AuthError) as other:
        Auth.allow(p, ("driver", "operator"), "cab2")
    assert other.value.status == 403
    with pytest.raises(AuthError) as role:
        Auth.allow(p, ("operator",))
    assert role.value.status == 403


def test_production_refuses_default_or_missing_tokens() -> None:
    check_production(ServeSettings())  # development: the dev tokens are fine
    with pytest.raises(RuntimeError, match="development tokens"):
        check_production(ServeSettings(production=True))
    with pytest.raises(RuntimeError, match="needs tokens"):
        check_production(ServeSettings(production=True, tokens=[]))
    good = TokenSpec(name="ops", role="operator", sha256=token_hash("long random secret"))
    check_production(ServeSettings(production=True, tokens=[good]))


def test_the_log_keeps_what_was_appended_and_skips_a_torn_line(tmp_path: Path) -> None:
    log = AppendLog(tmp_path)
    log.append("fixes", [{"a": 1}])
    log.append("fixes", [{"a": 2}])
    assert log.closed_segments() == []  # the open segment is not loaded yet
    log.rotate()
    log.append("rides", [{"b": 3}])
    [closed] = log.closed_segments()
    with closed.open("a") as fh:
        fh.write('{"kind": "fixes", "items": [{"a"')  # a crash mid-write (never acknowledged)
    assert list(AppendLog.read(closed)) == [("fixes", [{"a": 1}]), ("fixes", [{"a": 2}])]
    log.close()
    again = AppendLog(tmp_path)  # a restart: every segment is closed
    assert len(again.closed_segments()) == 2
    AppendLog.done(closed)
    assert len(again.closed_segments()) == 1


def test_a_segment_opened_after_a_rotation_is_never_handed_to_the_flusher(
    tmp_path: Path,
) -> None:
    log = AppendLog(tmp_path)
    log.append("fixes", [{"a": 1}])
    log.rotate()
    log.append("fixes", [{"a": 2}])  # opens the next segment between rotate and listing
    closed = log.closed_segments()
    assert [list(AppendLog.read(p)) for p in closed] == [[("fixes", [{"a": 1}])]]
    for p in closed:
        AppendLog.done(p)
    log.append("fixes", [{"a": 3}])
    log.rotate()
    [rest] = log.closed_segments()
    assert list(AppendLog.read(rest)) == [("fixes", [{"a": 2}]), ("fixes", [{"a": 3}])]


def test_each_bad_field_is_named_with_its_item() -> None:
    items = [
        {"vehicle_id": "c", "ts": "2008-05-19T10:00:00+00:00", "lat": 1, "lon": 2, "occupied": 0},
        {"vehicle_id": "", "ts": "2008-05-19T10:00:00", "lat": 0, "lon": 0, "occupied": "maybe"},
        "not an object",
    ]
    good, bad = validate_items(items, Fix)
    assert [i for i, _ in good] == [0]
    assert {(r.index, r.field) for r in bad} == {
        (1, "vehicle_id"),
        (1, "ts"),
        (1, "occupied"),
        (1, "lon"),
        (2, "(item)"),
    }


class _Graph:
    """No road network: the live state still counts H3 demand."""

    n_segments = 0


def _state(monkeypatch: pytest.MonkeyPatch) -> LiveState:
    import taxinav.serve.live as live

    class NoRoads:
        def __init__(self, graph: object) -> None: ...

        def snap(self, lat: np.ndarray, *a: object, **k: object) -> object:
            n = len(lat)
            return type("S", (), {"matched": np.zeros(n, bool), "segment": np.full(n, -1)})()

    monkeypatch.setattr(live, "SegmentIndex", NoRoads)
    from taxinav.features.sources import cell_of

    cell = cell_of(37.79, -122.41, 8)
    return LiveState(
        _Graph(),
        [cell],
        8,
        Slotting(10, 3),
        gap_limit_s=600,
        match_radius_m=50,  # type: ignore[arg-type]
        heading_weight_m=10,
    )


def _fix(minute: float, occupied: bool, vehicle: str = "c") -> Fix:
    ts = datetime(2008, 5, 19, 10, tzinfo=UTC) + timedelta(minutes=minute)
    return Fix(vehicle_id=vehicle, ts=ts, lat=37.79, lon=-122.41, occupied=occupied)


def test_a_pickup_counts_once_its_trip_closes_within_the_gap_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = _state(monkeypatch)
    # vacant 0, 1; occupied 2, 3 (pickup at 2); vacant 4 closes the trip → one pickup at 10:00.
    state.add_fixes([_fix(m, occ) for m, occ in ((0, False), (1, False), (2, True), (3, True))])
    assert sum(state.pickups.values()) == 0  # open trip: not yet a trip
    state.add_fixes([_fix(4, False)])
    [(key, n)] = state.pickups.items()
    assert key[0] == "h3" and key[2] == datetime(2008, 5, 19, 10, tzinfo=UTC) and n == 1
    # Occupied after a 20-minute gap (> 10 min): a new run, not a pickup; then closing it
    # counts nothing either.
    state.add_fixes([_fix(24, True), _fix(25, False)])
    assert sum(state.pickups.values()) == 1
    # Supply: distinct vacant vehicles per cell and slot.
    state.add_fixes([_fix(5, False, "d"), _fix(6, False, "d")])
    slot0 = datetime(2008, 5, 19, 10, tzinfo=UTC)
    assert len(next(v for (c, s), v in state.vacant.items() if s == slot0)) == 2


def test_repeats_in_and_across_batches_have_no_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    state = _state(monkeypatch)
    new, repeats = state.add_fixes([_fix(0, False), _fix(0, False), _fix(1, True)])
    assert (len(new), repeats) == (2, 1)
    new, repeats = state.add_fixes([_fix(1, True), _fix(2, False)])
    assert (len(new), repeats) == (1, 1)
    assert sum(state.pickups.values()) == 1


def test_an_acknowledgement_claims_while_a_batch_is_being_applied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Claiming (the acknowledgement's step) must not wait for the applier's long hold."""
    state = _state(monkeypatch)
    inside, release = threading.Event(), threading.Event()
    snap = state.index.snap

    def slow_snap(*a: object, **k: object) -> object:
        inside.set()
        release.wait(10)
        return snap(*a, **k)

    state.index.snap = slow_snap  # type: ignore[method-assign]
    applier = threading.Thread(target=state.apply, args=([_fix(0, False)],))
    applier.start()
    try:
        assert inside.wait(5)  # the applier now holds the state's lock
        claimed: list[tuple[list[Fix], int]] = []
        claimer = threading.Thread(
            target=lambda: claimed.append(state.claims.claim([_fix(1, False)]))
        )
        claimer.start()
        claimer.join(2)
        assert claimed and len(claimed[0][0]) == 1 and claimed[0][1] == 0
    finally:
        release.set()
        applier.join(5)
    assert state.vehicles["c"].ts == _fix(0, False).ts


def test_old_supply_slots_are_sealed_into_counts_and_late_fixes_are_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = _state(monkeypatch)
    # Two vacant taxis in the 10:00 slot (one twice), then the clock moves to 11:30.
    state.add_fixes([_fix(0, False, "a"), _fix(1, False, "a"), _fix(2, False, "b")])
    state.add_fixes([_fix(90, False, "a")])
    state.prune()  # slots before 10:30 are sealed
    assert len(state.vacant) == 1  # only the 11:30 slot keeps its set of vehicle ids

    def vacant_at(minute: int) -> int:
        t = state.counts("h3").to_pylist()
        slot = datetime(2008, 5, 19, 10, tzinfo=UTC) + timedelta(minutes=minute)
        return sum(r["vacant"] for r in t if r["slot_start"] == slot)

    assert (vacant_at(0), vacant_at(90)) == (2, 1)
    state.add_fixes([_fix(5, False, "c")])  # late for the sealed 10:00 slot
    assert (vacant_at(0), state.late_supply) == (2, 1)


def test_a_state_restored_from_a_checkpoint_continues_as_if_never_stopped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from taxinav.serve.live_stream import read_snapshot, restore_checkpoint, write_checkpoint

    first = [_fix(m, occ) for m, occ in ((0, False), (1, False), (2, True))]  # a trip opens
    rest = [_fix(3, True), _fix(4, False), _fix(5, False, "d")]  # … and closes
    whole = _state(monkeypatch)
    whole.add_fixes(first + rest)
    stopped = _state(monkeypatch)
    stopped.add_fixes(first)
    write_checkpoint(tmp_path, stopped, seq=7, fixes=3)
    resumed = _state(monkeypatch)
    assert restore_checkpoint(tmp_path, resumed) == (7, 3)
    new, repeats = resumed.add_fixes([first[-1], *rest])  # a redelivered fix is a repeat
    assert (len(new), repeats) == (3, 1)
    assert resumed.counts("h3") == whole.counts("h3")
    [pickup] = resumed.counts("h3").to_pylist()[:1]
    assert pickup["pickups"] == 1 and pickup["vacant"] == 2  # vehicles c and d at 10:00
    assert read_snapshot(tmp_path).seq == 7 and read_snapshot(tmp_path).fixes == 3


def test_the_training_window_is_given_in_local_days() -> None:
    from datetime import date

    from taxinav.serve.views import _train_days, _window

    # Slots 144 … 2158 of 10 minutes: days 1 … 14 after the first (the last slot's target
    # runs past the day's end), so 14 days ending the day before 2008-06-01.
    split = "{'train': [144, 2158], 'gate': [2160, 2591], 'test': [2592, 3599]}"
    assert _train_days(split, date(2008, 6, 1), 144) == {"start": date(2008, 5, 18), "days": 14}
    assert _train_days("", date(2008, 6, 1), 144) is None
    assert _train_days(split, None, 144) is None
    assert _window("2008-05-25", "3") == {"start": date(2008, 5, 25), "days": 3}
    assert _window("", "0") is None


def test_the_drivers_chances_within_minutes_and_the_next_turn() -> None:
    from types import SimpleNamespace

    from taxinav.serve.views import chance_within, next_turn

    eta, p = np.array([120.0, 400.0, 700.0, 1000.0]), np.array([0.1, 0.3, 0.5, 0.6])
    # 5 min = 300 s: only the first step has ended; 10 min: two; 15 min: three.
    assert chance_within(eta, p, (5, 10, 15)) == {"5": 0.1, "10": 0.3, "15": 0.5}
    assert chance_within(eta + 200, p, (5,)) == {"5": 0.0}  # no step ends within 5 min
    graph = SimpleNamespace(name=np.array(["Market", "Market", "5th", None], dtype=object),
                            length_m=np.array([100.0, 50.0, 80.0, 10.0]),
                            highway=np.array(["primary"] * 3 + ["service"]))  # fmt: skip
    assert next_turn(graph, np.array([0, 1, 2, 3])) == {"street": "5th", "in_m": 150.0}
    assert next_turn(graph, np.array([2, 3])) == {"street": "service road", "in_m": 80.0}
    assert next_turn(graph, np.array([0, 1])) is None
