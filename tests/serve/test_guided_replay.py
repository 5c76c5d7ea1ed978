"""Simulated twins become GPS fixes: one at each event, keep-alives in between, occupancy
from pickups and drop-offs, and only the guided group."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pyarrow as pa

from taxinav.serve.guided_replay import KEEPALIVE_S, twin_fixes
from taxinav.sim.events import EVENT_SCHEMA


def _events(rows: list[tuple[float, str, int, int, int, float]]) -> pa.Table:
    t, kind, vehicle, segment, group, value = zip(*rows, strict=True)
    return pa.table(
        {
            "t": t,
            "kind": kind,
            "vehicle": vehicle,
            "request": [-1] * len(rows),
            "segment": segment,
            "group": group,
            "value": value,
        },
        schema=EVENT_SCHEMA,
    )


def test_twin_fixes_follow_the_events_of_the_guided_group_only() -> None:
    graph = SimpleNamespace(
        mid_lat=np.array([37.0, 37.1, 37.2]), mid_lon=np.array([-122.0, -122.1, -122.2])
    )
    events = _events(
        [
            (0.0, "enter", 0, 0, 0, 0.0),  # vacant shift start on segment 0
            (30.0, "move", 0, 1, 0, 120.0),  # drives onto segment 1
            (100.0, "pickup", 0, 1, 0, 9.5),  # a passenger boards there
            (250.0, "dropoff", 0, 2, 0, 0.0),  # and alights on segment 2
            (10.0, "enter", 1, 2, 1, 0.0),  # another group: not a twin
            (40.0, "request", -1, 1, -1, 0.0),
        ]
    )
    got = twin_fixes(events, ("cab-a", "cab-b"), graph, origin_s=1_000.0).to_pylist()  # type: ignore[arg-type]
    times = [r["ts"].timestamp() - 1_000.0 for r in got]
    # enter 0, move 30, keep-alive 90, pickup 100, keep-alives 160 and 220, drop-off 250
    assert KEEPALIVE_S == 60.0
    assert times == [0.0, 30.0, 90.0, 100.0, 160.0, 220.0, 250.0]
    assert [r["occupied"] for r in got] == [False, False, False, True, True, True, False]
    assert [r["lat"] for r in got] == [37.0, 37.1, 37.1, 37.1, 37.1, 37.1, 37.2]
    assert {r["vehicle_id"] for r in got} == {"cab-a"}
