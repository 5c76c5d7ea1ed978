"""The chance that a vacant taxi driving a segment finds a passenger there.

Passengers appear on a segment at rate λ (per second) and wait up to ``patience`` seconds;
competing vacant taxis pass at rate m. A passenger still waiting is one that appeared less
than ``patience`` ago and that no competitor has passed since, so the expected number
waiting when our taxi arrives is λ·(1 − e^(−m·T))/m (λ·T when m = 0); while it drives the
segment (τ seconds) new ones appear at λ·τ. Arrivals are Poisson, hence

    P(find) = 1 − exp(−λ · (τ + (1 − e^(−m·T)) / m)).

It is the same law the simulator's unserved-demand estimate uses (1 − e^(−μτ)).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def waiting_window_s(competition: FloatArray, patience_s: float) -> FloatArray:
    """(1 − e^(−m·T))/m: how long, on average, a passenger has been available on arrival."""
    m = np.asarray(competition, dtype=np.float64)
    small = m * patience_s < 1e-9
    safe = np.where(small, 1.0, m)
    return np.where(small, patience_s, -np.expm1(-safe * patience_s) / safe)


def find_probability(
    rate: FloatArray, travel_s: FloatArray, competition: FloatArray, patience_s: float
) -> FloatArray:
    """P(a taxi driving each segment finds a passenger on it)."""
    exposure = np.asarray(travel_s) + waiting_window_s(competition, patience_s)
    return -np.expm1(-np.asarray(rate) * exposure)
