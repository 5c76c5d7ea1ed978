"""Online features computed for one slot from running state, without rebuilding the table.

The state is a sparse count matrix per unit and slot (history + live; most road segments
see no pickup in most slots, so 5,932 segments × thousands of slots stay small) and the
calendar. ``row(s)`` evaluates, for slot s only, the same definitions
as the batch Ibis expression (``features/expressions.py``): window sums over the last slots,
means of the 30-minute target over earlier days at the same time of day, neighbour sums — with
the same missing values (NaN where the batch has NULL). A test checks every feature of a
replayed day against the batch table.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray
from scipy.sparse import coo_matrix, csc_matrix, csr_matrix

from taxinav.features import FEATURES, HORIZON_SLOTS, DemandInputs

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
        self.per_day = 24 * 60 // inputs.slot_minutes
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
        self.nb1_n = csc_matrix(self.ring[1] @ self.n)
        self.nb2_n = csc_matrix(self.ring[2] @ self.n)
        self.nb1_sup = csc_matrix(self.ring[1] @ self.sup)
        self.y_complete = np.arange(self.n_slots) + HORIZON_SLOTS <= self.n_slots

    def y(self, slots: list[int]) -> FloatArray:
        """[units, len(slots)]: pickups in the 30 minutes from each of ``slots``."""
        cols = [np.asarray(self.n[:, d : min(d + HORIZON_SLOTS, self.n_slots)].sum(axis=1),
                           dtype=np.float64).ravel() for d in slots]  # fmt: skip
        return np.column_stack(cols) if cols else np.zeros((len(self.units), 0))

    def _earlier_days(self, s: int, same: str | None, last: int | None) -> list[int]:
        """Earlier slots at the same local time of day (and the same ``same`` calendar value),
        most recent first — the rows before s in the batch's time-of-day window."""
        mask = self.cal["slot_of_day"][:s] == self.cal["slot_of_day"][s]
        if same is not None:
            mask &= self.cal[same][:s] == self.cal[same][s]
        days: list[int] = np.flatnonzero(mask)[::-1].tolist()
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

        r30, sup10 = prev(3), _window_sum(self.sup, s - 1, s)
        nb1_r30 = _window_sum(self.nb1_n, s - 3, s)
        nb1_sup10 = _window_sum(self.nb1_sup, s - 1, s)
        cols = {
            "r10": prev(1), "r30": r30, "r60": prev(6), "r120": prev(12),
            "nb1_r30": nb1_r30, "nb1_r60": _window_sum(self.nb1_n, s - 6, s),
            "nb2_r30": _window_sum(self.nb2_n, s - 3, s),
            "nb2_r60": _window_sum(self.nb2_n, s - 6, s),
            "sup10": sup10, "nb1_sup10": nb1_sup10,
            "ratio": (r30 + nb1_r30) / (sup10 + nb1_sup10 + 1),
            "unit_rate": _window_sum(self.n, 0, s) / s * HORIZON_SLOTS if s > 0
            else np.full(u, np.nan),
            "yday": lag(1), "week": lag(7), "ha_all": self._mean_y(s),
            "ha_all_7": self._mean_y(s, last=7), "ha_dayoff": self._mean_y(s, "day_off"),
            "ha_dayoff_4": self._mean_y(s, "day_off", 4),
            "ha_weekday": self._mean_y(s, "weekday"),
        }  # fmt: skip
        for c in ("hour", "weekday", "slot_of_day", "holiday", "day_off"):
            cols[c] = np.full(u, float(self.cal[c][s]))
        return np.column_stack([np.asarray(cols[f], dtype=np.float64) for f in FEATURES])
