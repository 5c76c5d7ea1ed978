"""How large a share of the requests are radio bookings, per 4-hour block of a day.

The share is the simulator's one free parameter (see ``dispatch.py``). It cannot be one number
per block: a week of grid runs (2008-05-19 … 06-01, every share on every day) showed that in
the evening a higher share *shortens* the simulated wait on a quiet weekday but lengthens it on
a busy Friday or Saturday night, where the simulated median is 30–45 % too short without
bookings and about right with three quarters booked — and the busy nights are not a fixed
weekday (the Sunday before Memorial Day behaved like a Saturday, the next Sunday did not).
What tells them apart is visible in the replayed inputs themselves: the *demand pressure*, the
real requests per taxi-hour of fleet presence in the block.

So the calibration fits, per block, the bias of the simulated median (log sim/real) as a
plane in the share s and the log pressure x:

    bias(s, x) = a + b·x + (c + d·x)·s

and a simulated day uses, in each block, the share where the plane crosses zero (clipped to
the calibrated range of shares, x clipped to the range seen while calibrating, so a day
busier than any calibration day is not extrapolated). Fitted on one week and applied to the
other (seed 0), 1 and 3 of 42 day × block cells fell outside ±25 % against 3 and 4 for the
best single share per block.

Unbiased medians alone leave quiet days serving barely 80 % of the real pickups (bookings
serve about 0.2 more of a block's requests per unit of share). So the served share of each
block is fitted as a plane too, and where a day is predicted to serve less than the target
the shares are raised step by step in the block where serving more costs the least bias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from taxinav.sim.world import World

FloatArray = NDArray[np.float64]

N_BLOCKS = 6
MIN_PRESSURE = 1e-3  # requests per taxi-hour, so a block without requests has a finite log


def block_of(t_s: ArrayLike, world: World, n_blocks: int = N_BLOCKS) -> NDArray[np.int64]:
    """The block of the local day of each time (seconds since the world's origin)."""
    seconds = np.asarray(t_s, dtype=np.float64)
    hour = (world.origin_hour + np.floor(seconds / 3600.0)).astype(np.int64)
    result: NDArray[np.int64] = (hour % 24) // (24 // n_blocks)
    return result


def block_load(world: World, n_blocks: int = N_BLOCKS) -> tuple[FloatArray, FloatArray]:
    """Real requests and taxi-hours of presence in the area, per block of the local day."""
    hours = int(np.ceil(world.horizon_s / 3600.0))
    start = np.arange(hours) * 3600.0
    end = np.minimum(start + 3600.0, world.horizon_s)
    p = world.presence
    enter = np.clip(p.enter_t, 0.0, world.horizon_s)[:, None]
    leave = np.clip(p.leave_t, 0.0, world.horizon_s)[:, None]
    overlap = np.clip(np.minimum(leave, end) - np.maximum(enter, start), 0.0, None)
    taxi_hours = np.bincount(block_of(start, world, n_blocks),
                             weights=overlap.sum(axis=0) / 3600.0, minlength=n_blocks)  # fmt: skip
    t = world.requests.t
    t = t[(t >= 0) & (t < world.horizon_s)]
    requests = np.bincount(block_of(t, world, n_blocks), minlength=n_blocks)
    return requests.astype(np.float64), taxi_hours


def demand_pressure(world: World, n_blocks: int = N_BLOCKS) -> FloatArray:
    """Real requests per taxi-hour of presence in the area, per block of the local day
    (blocks the world does not cover get ``MIN_PRESSURE``)."""
    return _pressure(*block_load(world, n_blocks))


def _pressure(requests: FloatArray, taxi_hours: FloatArray) -> FloatArray:
    pressure = np.divide(requests, taxi_hours, out=np.zeros_like(requests), where=taxi_hours > 0)
    out: FloatArray = np.maximum(pressure, MIN_PRESSURE)
    return out


Plane = tuple[float, float, float, float]


@dataclass(frozen=True)
class BookingModel:
    """Per block: the coefficients (a, b, c, d) of the bias plane — and of the served-share
    plane, if fitted — the centre and the range of the log pressures they were fitted on, and
    the largest share it may choose."""

    coef: tuple[Plane, ...]
    x_mean: tuple[float, ...]
    x_lo: tuple[float, ...]
    x_hi: tuple[float, ...]
    max_share: float
    served: tuple[Plane, ...] | None = None
    min_served: float = 0.0  # the day's predicted served share the shares must reach

    @classmethod
    def fixed(cls, share: float, n_blocks: int = N_BLOCKS) -> BookingModel:
        """The same share in every block and on every day (bias = share − s)."""
        zeros = (0.0,) * n_blocks
        return cls(((share, 0.0, -1.0, 0.0),) * n_blocks, zeros, zeros, zeros, share)

    def _x(self, b: int, pressure: FloatArray) -> float:
        x = float(np.clip(np.log(pressure[b]), self.x_lo[b], self.x_hi[b]))
        return x - self.x_mean[b]

    @staticmethod
    def _at(plane: Plane, x: float, s: float) -> float:
        a, bx, c, d = plane
        return a + bx * x + (c + d * x) * s

    def shares(self, pressure: FloatArray, requests: FloatArray | None = None
               ) -> tuple[float, ...]:  # fmt: skip
        """The share of each block for a day with these demand pressures: where its bias
        crosses zero; then, if the served share is modelled and the day's requests per block
        are given, raised where it costs the least bias until the day is predicted to serve
        ``min_served`` of its requests."""
        out = []
        for b, (a, slope_x, c, d) in enumerate(self.coef):
            x = self._x(b, pressure)
            level, slope = a + slope_x * x, c + d * x
            # |bias| of a line is least where it crosses zero, or at the nearer end.
            s = -level / slope if abs(slope) > 1e-12 else 0.0
            out.append(float(np.clip(s, 0.0, self.max_share)))
        if self.served is not None and requests is not None and requests.sum() > 0:
            out = self._serve_enough(out, pressure, np.asarray(requests, dtype=np.float64))
        return tuple(round(v, 4) for v in out)

    def _serve_enough(self, shares: list[float], pressure: FloatArray, requests: FloatArray
                      ) -> list[float]:  # fmt: skip
        assert self.served is not None
        xs = [self._x(b, pressure) for b in range(len(shares))]
        weight = requests / requests.sum()

        def served(b: int, s: float) -> float:
            return float(np.clip(self._at(self.served[b], xs[b], s), 0.0, 1.0))  # type: ignore[index]

        step = self.max_share / 40
        while sum(weight[b] * served(b, s) for b, s in enumerate(shares)) < self.min_served:
            best, best_ratio = -1, np.inf
            for b, s in enumerate(shares):
                up = min(s + step, self.max_share)
                gain = weight[b] * (served(b, up) - served(b, s))
                if up <= s or gain <= 0:
                    continue
                cost = abs(self._at(self.coef[b], xs[b], up)) - abs(
                    self._at(self.coef[b], xs[b], s)
                )
                if cost / gain < best_ratio:
                    best, best_ratio = b, cost / gain
            if best < 0:  # no block can serve more
                break
            shares[best] = min(shares[best] + step, self.max_share)
        return shares

    def for_day(self, world: World) -> tuple[float, ...]:
        """The shares of a simulated day, from its own requests and fleet presence."""
        requests, taxi_hours = block_load(world, len(self.coef))
        return self.shares(_pressure(requests, taxi_hours), requests)

    def to_json(self) -> dict[str, Any]:
        return {"coef": [list(c) for c in self.coef], "x_mean": list(self.x_mean),
                "x_lo": list(self.x_lo), "x_hi": list(self.x_hi),
                "max_share": self.max_share, "min_served": self.min_served,
                "served": [list(c) for c in self.served] if self.served else None}  # fmt: skip

    @classmethod
    def from_json(cls, blob: dict[str, Any]) -> BookingModel:
        def planes(rows: list[list[float]]) -> tuple[Plane, ...]:
            return tuple((float(a), float(b), float(c), float(d)) for a, b, c, d in rows)

        served = blob.get("served")
        return cls(
            planes(blob["coef"]), tuple(map(float, blob["x_mean"])),
            tuple(map(float, blob["x_lo"])), tuple(map(float, blob["x_hi"])),
            float(blob["max_share"]), planes(served) if served else None,
            float(blob.get("min_served", 0.0)),
        )  # fmt: skip


def _plane(x: FloatArray, s: FloatArray, y: FloatArray) -> Plane:
    """Least squares y ≈ a + b·x + (c + d·x)·s (flat in x when x does not vary)."""
    if float(np.ptp(x)) > 1e-9:
        a, b, c, d = np.linalg.lstsq(np.column_stack([np.ones_like(s), x, s, s * x]), y,
                                     rcond=None)[0]  # fmt: skip
        return float(a), float(b), float(c), float(d)
    a, c = np.linalg.lstsq(np.column_stack([np.ones_like(s), s]), y, rcond=None)[0]
    return float(a), 0.0, float(c), 0.0


def fit_booking_model(
    block: NDArray[np.int64], pressure: FloatArray, share: FloatArray, bias: FloatArray,
    served: FloatArray | None = None, min_served: float = 0.0, n_blocks: int = N_BLOCKS,
) -> BookingModel:  # fmt: skip
    """Least-squares planes from calibration runs: one row per (day, block, share) with the
    block's demand pressure, the log ratio of simulated to real median and, optionally, the
    share of the block's requests served. A block never seen (or at one share only) gets
    share 0 and, if served is modelled, the mean served share of the others."""
    block, share, bias = np.asarray(block), np.asarray(share, float), np.asarray(bias, float)
    x_all = np.log(np.maximum(np.asarray(pressure, float), MIN_PRESSURE))
    coef: list[Plane] = []
    served_coef: list[Plane] = []
    mean: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    for b in range(n_blocks):
        m = block == b
        if not m.any() or np.unique(share[m]).size < 2:
            coef.append((0.0, 0.0, 1.0, 0.0))  # crosses zero at share 0
            fallback = float(np.mean(served)) if served is not None and served.size else 1.0
            served_coef.append((fallback, 0.0, 0.0, 0.0))
            mean, lo, hi = [*mean, 0.0], [*lo, 0.0], [*hi, 0.0]
            continue
        x = x_all[m]
        centre = float(x.mean())
        coef.append(_plane(x - centre, share[m], bias[m]))
        if served is not None:
            served_coef.append(_plane(x - centre, share[m], np.asarray(served, float)[m]))
        mean, lo, hi = [*mean, centre], [*lo, float(x.min())], [*hi, float(x.max())]
    return BookingModel(
        tuple(coef), tuple(mean), tuple(lo), tuple(hi), float(share.max()),
        tuple(served_coef) if served is not None else None, min_served,
    )  # fmt: skip
