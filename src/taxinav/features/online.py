"""Online features computed for one slot from running state, without rebuilding the table.

The state is a sparse count matrix per unit and slot (history + live; most road segments
see no pickup in most slots, so 5,932 segments × thousands of slots stay small) and the
calendar. ``row(s)`` evaluates, for slot s only, the same definitions
as the batch Ibis expression (``features/expressions.py``): window sums over the last slots,
means of the target over earlier days at the same time of day, neighbour sums — with
the same missing values (NaN where the batch has NULL). A test checks every feature of a
replayed day against the batch table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray
from scipy.sparse import coo_matrix, csc_matrix, csr_matrix, hstack

from taxinav.calendar import slot_table
from taxinav.features.expressions import FEATURES
from taxinav.features.neighbors import h3_rings, road_hops
from taxinav.features.slots import HISTORY_DAYS, Slotting
from taxinav.features.sources import COUNT_SCHEMA, SUPPLY_SCHEMA, DemandInputs, network_cells
from taxinav.roads import RoadGraph

FloatArray = NDArray[np.float64]


def _matrix(table: pa.Table, value: str, index: dict[str, int], n_slots: int) -> csc_matrix:
    """[units, slots] sums of ``value``; rows of unknown units or slots are left out."""
    units = np.array([index.get(u, -1) for u in table["unit_id"].to_pylist()], dtype=np.int64)
    slots = table["slot"].to_numpy().astype(np.int64)
    vals = table[value].to_numpy().astype(np.float64)
    ok = (units >= 0) & (slots >= 0) & (slots < n_slots)
    m = coo_matrix((vals[ok], (units[ok], slots[ok])), shape=(len(index), n_slots))
    return m.tocsc()  # duplicates are summed


def _window_sum(x: csc_matrix, lo: int, hi: int) -> FloatArray:
    """Sum over slots [lo, hi) per unit; NaN when the window holds no slot (like SQL)."""
    lo = max(lo, 0)
    if hi <= lo:
        return np.full(x.shape[0], np.nan)
    out: FloatArray = np.asarray(x[:, lo:hi].sum(axis=1), dtype=np.float64).ravel()
    return out


class SlotFeatures:
    """Features of every unit at chosen slots, from the counts of ``inputs``."""

    def __init__(self, inputs: DemandInputs) -> None:
        self.units = [str(u) for u in inputs.units["unit_id"].to_pylist()]
        index = {u: i for i, u in enumerate(self.units)}
        self.n_slots = inputs.n_slots
        self.slotting = inputs.slotting
        self.per_day = inputs.slotting.per_day
        self.back = HISTORY_DAYS * self.per_day  # the longest look-back, in slots
        self.n = _matrix(inputs.counts, "n", index, self.n_slots)
        self.sup = _matrix(inputs.supply, "vehicles", index, self.n_slots)
        nb = inputs.neighbors
        rings = nb["ring"].to_numpy()
        src = np.array([index.get(u, -1) for u in nb["unit_id"].to_pylist()], dtype=np.int64)
        dst = np.array([index.get(u, -1) for u in nb["nbr_id"].to_pylist()], dtype=np.int64)
        self.ring: dict[int, csr_matrix] = {}
        for k in (1, 2):
            ok = (rings == k) & (src >= 0) & (dst >= 0)
            self.ring[k] = csr_matrix(
                (np.ones(int(ok.sum())), (src[ok], dst[ok])), shape=(len(index), len(index))
            )
        self.cal = {c: inputs.slots[c].to_numpy() for c in
                    ("hour", "weekday", "slot_of_day", "holiday", "day_off")}  # fmt: skip
        self._derive()
        self._base = (self.n, self.sup, self.nb1_n, self.nb2_n, self.nb1_sup)
        self.y_complete = np.arange(self.n_slots) + self.slotting.horizon_slots <= self.n_slots

    def _derive(self) -> None:
        self.nb1_n = csc_matrix(self.ring[1] @ self.n)
        self.nb2_n = csc_matrix(self.ring[2] @ self.n)
        self.nb1_sup = csc_matrix(self.ring[1] @ self.sup)

    def set_live(self, first: int, pickups: FloatArray, vacant: FloatArray) -> None:
        """Counts of slots ``first`` … ``first + k − 1`` replaced by live ones ([units, k]
        pickups and distinct vacant vehicles): what a running service has received so far.
        The counts given at construction stay the base, so calling again replaces them anew
        (a simulation refreshes its day's columns every slot)."""
        k = pickups.shape[1]
        if first + k > self.n_slots:
            raise ValueError(
                f"live slots {first}…{first + k - 1} beyond the state's {self.n_slots}"
            )
        n, sup, nb1_n, nb2_n, nb1_sup = self._base

        def spliced(base: csc_matrix, live: csr_matrix) -> csc_matrix:
            return csc_matrix(hstack([base[:, :first], live, base[:, first + k :]], "csc"))

        live_n, live_sup = csr_matrix(pickups), csr_matrix(vacant)
        self.n, self.sup = spliced(n, live_n), spliced(sup, live_sup)
        self.nb1_n = spliced(nb1_n, csr_matrix(self.ring[1] @ live_n))
        self.nb2_n = spliced(nb2_n, csr_matrix(self.ring[2] @ live_n))
        self.nb1_sup = spliced(nb1_sup, csr_matrix(self.ring[1] @ live_sup))

    def y(self, slots: list[int]) -> FloatArray:
        """[units, len(slots)]: pickups over the horizon from each of ``slots``."""
        h = self.slotting.horizon_slots
        cols = [np.asarray(self.n[:, d : min(d + h, self.n_slots)].sum(axis=1),
                           dtype=np.float64).ravel() for d in slots]  # fmt: skip
        return np.column_stack(cols) if cols else np.zeros((len(self.units), 0))

    def _earlier_days(self, s: int, same: str | None, last: int | None) -> list[int]:
        """Earlier slots at the same local time of day (and the same ``same`` calendar value),
        most recent first — the rows before s in the batch's time-of-day window: the last
        ``last`` of them, or else those of the last ``HISTORY_DAYS`` days."""
        lo = 0 if last is not None else max(0, s - self.back)
        mask = self.cal["slot_of_day"][lo:s] == self.cal["slot_of_day"][s]
        if same is not None:
            mask &= self.cal[same][lo:s] == self.cal[same][s]
        days: list[int] = (np.flatnonzero(mask)[::-1] + lo).tolist()
        return days[:last] if last is not None else days

    def _mean_y(self, s: int, same: str | None = None, last: int | None = None) -> FloatArray:
        days = self._earlier_days(s, same, last)
        if not days:
            return np.full(len(self.units), np.nan)
        out: FloatArray = self.y(days).mean(axis=1)
        return out

    def row(self, s: int) -> FloatArray:
        """[units, FEATURES] at slot ``s``."""
        u = len(self.units)

        def prev(k: int) -> FloatArray:
            return _window_sum(self.n, s - k, s)

        earlier = self._earlier_days(s, None, 7)

        def lag(k: int) -> FloatArray:
            return self.y([earlier[k - 1]])[:, 0] if len(earlier) >= k else np.full(u, np.nan)

        m10, m30, m60, m120 = (self.slotting.slots(m) for m in (10, 30, 60, 120))
        r30, sup10 = prev(m30), _window_sum(self.sup, s - m10, s)
        nb1_r30 = _window_sum(self.nb1_n, s - m30, s)
        nb1_sup10 = _window_sum(self.nb1_sup, s - m10, s)
        cols = {
            "r10": prev(m10), "r30": r30, "r60": prev(m60), "r120": prev(m120),
            "nb1_r30": nb1_r30, "nb1_r60": _window_sum(self.nb1_n, s - m60, s),
            "nb2_r30": _window_sum(self.nb2_n, s - m30, s),
            "nb2_r60": _window_sum(self.nb2_n, s - m60, s),
            "sup10": sup10, "nb1_sup10": nb1_sup10,
            "ratio": (r30 + nb1_r30) / (sup10 + nb1_sup10 + 1),
            "unit_rate": _window_sum(self.n, s - self.back, s) / min(s, self.back)
            * self.slotting.horizon_slots if s > 0 else np.full(u, np.nan),
            "yday": lag(1), "week": lag(7), "ha_all": self._mean_y(s),
            "ha_all_7": self._mean_y(s, last=7), "ha_dayoff": self._mean_y(s, "day_off"),
            "ha_dayoff_4": self._mean_y(s, "day_off", 4),
            "ha_weekday": self._mean_y(s, "weekday"),
        }  # fmt: skip
        for c in ("hour", "weekday", "slot_of_day", "holiday", "day_off"):
            cols[c] = np.full(u, float(self.cal[c][s]))
        return np.column_stack([np.asarray(cols[f], dtype=np.float64) for f in FEATURES])


def _units(graph: RoadGraph, unit: str, res: int) -> tuple[pa.Table, pa.Table]:
    if unit == "h3":
        cells = network_cells(graph.mid_lat, graph.mid_lon, res)
        return pa.table({"unit_id": cells}), h3_rings(cells)
    if unit == "road":
        ids = [str(i) for i in range(graph.n_segments)]
        return pa.table({"unit_id": ids}), road_hops(graph.succ_indptr, graph.succ_indices)
    raise ValueError(f"unknown unit type {unit!r}; use road or h3")


def unit_inputs(
    graph: RoadGraph, unit: str, counts: pa.Table, origin: datetime, end: datetime,
    slotting: Slotting, h3_resolution: int, tz: ZoneInfo,
) -> DemandInputs:  # fmt: skip
    """Feature inputs of ``unit`` ("road" or "h3") from counts (unit_id, slot_start, pickups,
    vacant) for the slots from ``origin`` up to ``end``."""
    step = slotting.slot_s
    n_slots = int((end - origin).total_seconds() // step)
    if n_slots <= 0:
        raise ValueError(f"{end} is not after the first slot {origin}")
    units, neighbors = _units(graph, unit, h3_resolution)
    starts = counts["slot_start"].to_numpy(zero_copy_only=False)
    slot = ((starts - np.datetime64(origin.astimezone(UTC).replace(tzinfo=None), "us"))
            // np.timedelta64(step, "s")).astype(np.int64)  # fmt: skip
    keep = (slot >= 0) & (slot < n_slots)
    ids = pa.array(np.asarray(counts["unit_id"].to_pylist(), dtype=object)[keep], pa.string())
    order = np.lexsort((ids.to_numpy(zero_copy_only=False).astype(str), slot[keep]))
    take = pa.array(order)
    base = {"unit_id": ids, "slot": pa.array(slot[keep], pa.int64())}
    pick = pa.table({**base, "n": pa.array(counts["pickups"].to_numpy()[keep], pa.int64())})
    vac = pa.table({**base, "vehicles": pa.array(counts["vacant"].to_numpy()[keep], pa.int64())})
    return DemandInputs(
        unit, units, slot_table(origin, n_slots, slotting.slot_minutes, tz),
        pick.take(take).cast(COUNT_SCHEMA), vac.take(take).cast(SUPPLY_SCHEMA), neighbors,
        origin, slotting, tz,
    )  # fmt: skip
