"""Does the chance of a passenger stated on a route come true?

Every route states the chance that its taxi finds a passenger by the route's end. In the
simulator the outcome is known: the taxi's next pickup (a hail or a booking) came within the
route's duration or it did not. A taxi that left the area, or a run that ended, before the
route's end without a pickup is censored — its outcome is unknown, not a miss.

The MDP's chance of a pass (``chance.py``) assumes every waiting hail is seen and taken by
the first vacant taxi to pass; it overstates what a taxi finds. Reported chances are therefore
calibrated with one hazard scale κ: a step's chance p is stated as 1 − (1 − p)^κ, so the
chance by the route's end is 1 − (1 − P)^κ too. κ is fitted by maximum likelihood on
simulated outcomes of days before the evaluated ones (``routing.chance_scale``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 1.0)
_EPS = 1e-9


@dataclass(frozen=True)
class Outcomes:
    """Per stated chance: whether its outcome is known and whether a passenger was found."""

    p: FloatArray
    known: NDArray[np.bool_]
    found: NDArray[np.bool_]


def _next_after(
    t: FloatArray, vehicle: IntArray, ev_t: FloatArray, ev_vehicle: IntArray
) -> FloatArray:
    """Time of each vehicle's first event strictly after ``t`` (inf if none)."""
    scale = float(max(t.max(initial=0.0), ev_t.max(initial=0.0)) + 1.0)
    keys = np.sort(ev_vehicle.astype(np.float64) * scale + ev_t)
    query = vehicle.astype(np.float64) * scale + t
    i = np.searchsorted(keys, query, side="right")
    nxt = np.full(t.shape, np.inf)
    ok = i < keys.size
    hit = keys[np.minimum(i, keys.size - 1)]
    same = ok & (np.floor(hit / scale) == vehicle)
    nxt[same] = hit[same] - vehicle[same] * scale
    return nxt


def route_outcomes(
    t: FloatArray, vehicle: IntArray, duration_s: FloatArray, p: FloatArray,
    pickup_t: FloatArray, pickup_vehicle: IntArray,
    leave_t: FloatArray, leave_vehicle: IntArray, end_s: float,
) -> Outcomes:  # fmt: skip
    """Outcomes of routes stated at ``t`` for ``vehicle`` with chance ``p`` of a passenger
    within ``duration_s``, from the run's pickups and departures from the area."""
    t, p = np.asarray(t, np.float64), np.asarray(p, np.float64)
    vehicle = np.asarray(vehicle, np.int64)
    until = t + np.asarray(duration_s, np.float64)
    pickup = _next_after(t, vehicle, np.asarray(pickup_t, np.float64),
                         np.asarray(pickup_vehicle, np.int64))  # fmt: skip
    leave = _next_after(t, vehicle, np.asarray(leave_t, np.float64),
                        np.asarray(leave_vehicle, np.int64))  # fmt: skip
    found = pickup <= until
    missed = ~found & (leave > until) & (until <= end_s)
    return Outcomes(p, found | missed, found)


def reliability_table(o: Outcomes, bins: tuple[float, ...] = BINS) -> list[dict[str, float]]:
    """Per bin of stated chance (known outcomes only): how many, the mean stated chance and
    the share that found a passenger."""
    p, found = o.p[o.known], o.found[o.known]
    rows = []
    which = np.clip(np.searchsorted(bins, p, side="right") - 1, 0, len(bins) - 2)
    for b in range(len(bins) - 1):
        m = which == b
        if m.any():
            rows.append({"lo": bins[b], "hi": bins[b + 1], "n": int(m.sum()),
                         "stated": float(p[m].mean()),
                         "found": float(found[m].mean())})  # fmt: skip
    return rows


def scaled(p: FloatArray, kappa: float) -> FloatArray:
    """The chance 1 − (1 − p)^κ: the same hazard, κ times as strong."""
    out: FloatArray = -np.expm1(kappa * np.log1p(-np.clip(p, 0.0, 1.0 - _EPS)))
    return out


def log_loss(o: Outcomes, kappa: float = 1.0) -> float:
    """Mean negative log-likelihood of the known outcomes under the chances scaled by κ."""
    q = np.clip(scaled(o.p[o.known], kappa), _EPS, 1.0 - _EPS)
    y = o.found[o.known]
    return float(-np.mean(np.where(y, np.log(q), np.log1p(-q))))


def fit_hazard_scale(o: Outcomes) -> float:
    """The κ with the most likely known outcomes (1.0 when none is known)."""
    if not o.known.any():
        return 1.0
    res = minimize_scalar(lambda u: log_loss(o, float(np.exp(u))), bounds=(-5.0, 3.0),
                          method="bounded", options={"xatol": 1e-6})  # fmt: skip
    return float(np.exp(res.x))
