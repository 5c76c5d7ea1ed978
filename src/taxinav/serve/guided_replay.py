"""Replay with a guided share: part of the fleet is replaced by its simulated twin, which
cruises on the recommender's routes in the fleet simulator on the day's real demand; the rest
replays its real telemetry. The simulator's events become the twins' GPS fixes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from taxinav.calendar import local_midnight
from taxinav.guidance.experiment import calibration_config, make_policy, run_config, run_seed
from taxinav.roads import RoadGraph
from taxinav.settings import Settings
from taxinav.sim.booking import BookingModel
from taxinav.sim.calibration import cached_booking
from taxinav.sim.runs import day_world, prepare
from taxinav.warehouse import open_reader

GUIDED_GROUP = 0
KEEPALIVE_S = 60.0  # a twin reports at least this often (real cabs report about once a minute)


@dataclass(frozen=True)
class GuidedReplay:
    fixes: pa.Table  # vehicle_id, ts, lat, lon, occupied — real and simulated, in time order
    guided: list[str]  # vehicles replaced by their simulated twin
    served_share: float  # of requests, in the simulation


def twin_fixes(events: pa.Table, owner: tuple[str, ...], graph: RoadGraph,
               origin_s: float) -> pa.Table:  # fmt: skip
    """Fixes of the guided group's vehicles from the simulator's events (``owner[v]``: the real
    vehicle of simulated vehicle v): at the midpoint of the segment entered, or where a
    passenger boards or alights, and every ``KEEPALIVE_S`` in between, so that a trip or a
    wait is not cut by the gap limit."""
    ev = events.filter(pc.equal(events["group"], GUIDED_GROUP))
    kinds = ev["kind"].to_pylist()
    t = ev["t"].to_numpy()
    veh = ev["vehicle"].to_numpy()
    seg = ev["segment"].to_numpy()
    entered_busy = ev["value"].to_numpy() == 1.0
    rows: dict[str, list[object]] = {"vehicle_id": [], "t": [], "segment": [], "occupied": []}
    state: dict[int, tuple[float, int, bool]] = {}  # vehicle → (last t, segment, occupied)
    for k, kind in enumerate(kinds):
        v, s = int(veh[k]), int(seg[k])
        if kind not in ("enter", "move", "pickup", "dropoff", "leave") or s < 0:
            continue
        last = state.get(v)
        if last is not None and kind != "enter":
            for tk in np.arange(last[0] + KEEPALIVE_S, t[k], KEEPALIVE_S):
                _add(rows, owner[v], float(tk), last[1], last[2])
        occupied = (kind == "pickup" or (kind == "enter" and bool(entered_busy[k]))
                    or (kind in ("move", "leave") and bool(last and last[2])))  # fmt: skip
        _add(rows, owner[v], float(t[k]), s, occupied)
        if kind == "leave":
            state.pop(v, None)
        else:
            state[v] = (float(t[k]), s, occupied)
    segs = np.asarray(rows["segment"], dtype=np.int64)
    ts = np.asarray(rows["t"], dtype=np.float64) + origin_s
    return pa.table({
        "vehicle_id": pa.array(rows["vehicle_id"], pa.string()),
        "ts": pa.array((ts * 1e6).astype(np.int64), pa.timestamp("us", tz="UTC")),
        "lat": pa.array(graph.mid_lat[segs] if segs.size else [], pa.float64()),
        "lon": pa.array(graph.mid_lon[segs] if segs.size else [], pa.float64()),
        "occupied": pa.array(rows["occupied"], pa.bool_()),
    })  # fmt: skip


def _add(rows: dict[str, list[object]], v: str, t: float, s: int, occupied: bool) -> None:
    rows["vehicle_id"].append(v)
    rows["t"].append(t)
    rows["segment"].append(s)
    rows["occupied"].append(occupied)


def guided_replay(settings: Settings, day: date, share: float, real: pa.Table) -> GuidedReplay:
    """Simulate the day with ``share`` of the fleet guided (the rest cruising as drivers do)
    and merge the twins' fixes with the other vehicles' real ones."""
    booking = cached_booking(calibration_config(settings), day) or BookingModel.fixed(0.15)
    config = run_config(settings)
    con = open_reader(settings)
    try:  # the guided policy reads the day's stored forecasts when it starts
        period = prepare(con, config, day)
        first = local_midnight(day, settings.tz)
        factories = [make_policy(n, con, period.network, first, settings)
                     for n in ("guided", "historical")]  # fmt: skip
        world = day_world(con, config, period, day, 0)
        run = run_seed(world, factories, config, day, 0, share, booking.for_day(world))
        events, kpis = run.events, run.kpis
    finally:
        con.close()
    p = world.presence
    owner = tuple(p.names[i] for i in p.vehicle.tolist())  # simulated vehicle → real one
    origin_s = local_midnight(day, settings.tz).timestamp()
    twins = twin_fixes(events, owner, period.graph, origin_s)
    guided = sorted(set(twins["vehicle_id"].to_pylist()))
    others = real.filter(pc.invert(pc.is_in(real["vehicle_id"], pa.array(guided, pa.string()))))
    merged = pa.concat_tables([others.select(twins.column_names).cast(twins.schema), twins])
    merged = merged.sort_by([("ts", "ascending"), ("vehicle_id", "ascending")])
    return GuidedReplay(merged, guided, float(kpis["served_share"]))
