"""KPIs computed only from the event log.

Vacant time before a pickup runs from the moment a vehicle becomes vacant (entering the area
vacant, or a drop-off inside it) to its next pickup; spells that end by leaving the area or
at the end of the run are counted separately, exactly like the real-data spell definition.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from taxinav.sim.events import Kind


def _lifecycle(events: pa.Table) -> pa.Table:
    """The events that change a vehicle's presence or occupancy, per vehicle in time order."""
    kinds = pa.array([Kind.ENTER, Kind.LEAVE, Kind.PICKUP, Kind.DROPOFF], pa.string())
    return events.filter(pa.compute.is_in(events["kind"], kinds)).sort_by(
        [("vehicle", "ascending"), ("t", "ascending")]
    )


def _vacant_spells(
    events: pa.Table, starts_out: dict[int, list[float]] | None = None
) -> tuple[dict[int, list[float]], dict[int, int]]:
    """Per group: durations of spells ending in a pickup (and, into ``starts_out``, when each
    began); and the count of spells cut."""
    rows = _lifecycle(events)
    durations: dict[int, list[float]] = defaultdict(list)
    cut: dict[int, int] = defaultdict(int)
    start: dict[int, float] = {}
    for t, kind, vehicle, group, value in zip(
        rows["t"].to_pylist(), rows["kind"].to_pylist(), rows["vehicle"].to_pylist(),
        rows["group"].to_pylist(), rows["value"].to_pylist(), strict=True,
    ):  # fmt: skip
        if kind == Kind.PICKUP:
            if vehicle in start:
                began = start.pop(vehicle)
                durations[group].append(t - began)
                if starts_out is not None:
                    starts_out.setdefault(group, []).append(began)
        elif kind == Kind.DROPOFF or (kind == Kind.ENTER and value == 0.0):
            start[vehicle] = t  # ENTER value 0 = vacant shift start inside the area
        elif kind == Kind.ENTER and value == 2.0:
            cut[group] += 1  # drove in vacant: the spell began outside, like real ones cut
        elif kind == Kind.LEAVE and vehicle in start:
            start.pop(vehicle)
            cut[group] += 1
    cut[-2] += len(start)  # still searching when the run ended
    return durations, cut


def occupancy(events: pa.Table, horizon_s: float) -> dict[int, float]:
    """Per group: time carrying a passenger over time present in the area."""
    return {g: busy / present for g, (present, busy) in present_and_busy(events, horizon_s).items()}


def present_and_busy(events: pa.Table, horizon_s: float) -> dict[int, tuple[float, float]]:
    """Per group: seconds present in the area, and of those, carrying a passenger."""
    rows = _lifecycle(events)
    present: dict[int, float] = defaultdict(float)
    busy: dict[int, float] = defaultdict(float)
    since: dict[int, float] = {}
    busy_since: dict[int, float] = {}
    group_of: dict[int, int] = {}
    for t, kind, v, g, value in zip(
        rows["t"].to_pylist(), rows["kind"].to_pylist(), rows["vehicle"].to_pylist(),
        rows["group"].to_pylist(), rows["value"].to_pylist(), strict=True,
    ):  # fmt: skip
        group_of[v] = g
        if kind == Kind.ENTER:  # value: 0 vacant, 1 occupied, 2 vacant driving in
            since[v] = t
            if value == 1.0:
                busy_since[v] = t
        elif kind == Kind.PICKUP:
            busy_since[v] = t
        elif kind == Kind.DROPOFF and v in busy_since:
            busy[g] += t - busy_since.pop(v)
        elif kind == Kind.LEAVE and v in since:
            present[g] += t - since.pop(v)
    for v, t0 in since.items():
        present[group_of[v]] += horizon_s - t0
    for v, t0 in busy_since.items():
        busy[group_of[v]] += horizon_s - t0
    return {g: (present[g], busy[g]) for g in present if present[g] > 0}


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {
            "n": 0,
            "mean_min": float("nan"),
            "median_min": float("nan"),
            "p90_min": float("nan"),
        }
    a = np.asarray(values) / 60.0
    return {
        "n": len(values),
        "mean_min": float(a.mean()),
        "median_min": float(np.median(a)),
        "p90_min": float(np.percentile(a, 90)),
    }


def median_by_block(
    durations: list[float], starts: list[float], block_h: int = 4
) -> dict[int, float]:
    """Median minutes per block of the day (by when the spell began; the origin is local
    midnight, as in ``served_share_by_block``)."""
    d = np.asarray(durations) / 60.0
    block = ((np.asarray(starts) // 3600).astype(int) % 24) // block_h
    return {int(b): float(np.median(d[block == b])) for b in np.unique(block)}


def served_share_by_block(
    events: pa.Table, block_h: int = 4, kind: np.ndarray | None = None
) -> dict[int, float]:
    """Share of requests served per block of the day (by when the request was made; the
    origin is local midnight). ``kind``: the event kinds as an array, if already made."""
    if kind is None:
        kind = np.asarray(events["kind"].to_pylist(), dtype=object)
    request = events["request"].to_numpy()
    t = events["t"].to_numpy()
    asked = kind == Kind.REQUEST
    block = (t[asked] // 3600).astype(np.int64) % 24 // block_h
    served = np.isin(request[asked], request[kind == Kind.PICKUP])
    return {int(b): float(served[block == b].mean()) for b in np.unique(block)}


def summarize(events: pa.Table, horizon_s: float | None = None) -> dict[str, Any]:
    """Requests served/lost, vacant time, empty km per trip and revenue, overall and by group."""
    kind = np.asarray(events["kind"].to_pylist(), dtype=object)
    group = np.asarray(events["group"].to_numpy())
    value = np.asarray(events["value"].to_numpy())
    n_req = int((kind == Kind.REQUEST).sum())
    n_pick = int((kind == Kind.PICKUP).sum())
    n_lost = int((kind == Kind.LOST).sum())
    starts: dict[int, list[float]] = {}
    durations, cut = _vacant_spells(events, starts)
    horizon = (
        horizon_s if horizon_s is not None else float(np.max(events["t"].to_numpy(), initial=0))
    )
    hours = present_and_busy(events, horizon)
    out: dict[str, Any] = {
        "requests": n_req,
        "served": n_pick,
        "lost": n_lost,
        "served_share": n_pick / n_req if n_req else float("nan"),
        "served_share_by_block": served_share_by_block(events, kind=kind),
        "groups": {},
    }
    for g in sorted({int(x) for x in group if x >= 0}):
        picks = (kind == Kind.PICKUP) & (group == g)
        empty_m = float(value[(kind == Kind.MOVE) & (group == g)].sum())
        present_s, busy_s = hours.get(g, (0.0, 0.0))
        revenue = float(value[picks].sum())
        out["groups"][g] = {
            "pickups": int(picks.sum()),
            "vacant_before_pickup": _stats(durations.get(g, [])),
            "vacant_median_by_block": median_by_block(durations.get(g, []), starts.get(g, [])),
            "spells_cut_by_leaving": cut.get(g, 0),
            "empty_km_per_trip": empty_m / 1000 / max(int(picks.sum()), 1),
            "revenue": revenue,
            "occupancy": busy_s / present_s if present_s > 0 else float("nan"),
            "present_h": present_s / 3600,
            "pickups_per_vacant_h": picks.sum() / ((present_s - busy_s) / 3600)
            if present_s > busy_s
            else float("nan"),
            "revenue_per_present_h": revenue / (present_s / 3600)
            if present_s > 0
            else float("nan"),
        }
    return out


@dataclass(frozen=True)
class Tariff:
    """A taxi meter: ``flag_drop`` currency units on boarding, which include the first
    ``included_km`` km; then ``per_km`` per km and ``per_minute`` per minute of the ride."""

    flag_drop: float
    per_km: float
    included_km: float
    per_minute: float

    def fare(self, distance_m: float, duration_s: float) -> float:
        km = distance_m / 1000.0
        return (
            self.flag_drop
            + self.per_km * max(km - self.included_km, 0.0)
            + (self.per_minute * duration_s / 60.0)
        )

    def sql(self, distance_m: str, duration_s: str = "0") -> str:
        """The same fare as a SQL expression of two numeric columns."""
        return (
            f"({self.flag_drop!r} + {self.per_km!r} * greatest({distance_m} / 1000.0 - "
            f"{self.included_km!r}, 0) + {self.per_minute!r} * {duration_s} / 60.0)"
        )


MILE_KM = 1.609344
# San Francisco 2008, approximately: $3.10 flag drop with the first 1/5 mile, $0.45 per 1/5
# mile, no time charge (slow-traffic time is a small share downtown).
SF_2008 = Tariff(flag_drop=3.10, per_km=0.45 * 5 / MILE_KM, included_km=0.2 * MILE_KM,
                 per_minute=0.0)  # fmt: skip


def meter_fare(distance_m: float, duration_s: float, tariff: Tariff = SF_2008) -> float:
    """The meter's fare of a ride (``tariff``: the fleet's city's, a setting)."""
    return tariff.fare(distance_m, duration_s)
