"""The chance that a vacant taxi driving a segment finds a passenger there.

Passengers appear on a segment at rate λ (per second) and wait up to ``patience`` seconds;
competing vacant taxis pass at rate m. A passenger still waiting is one that appeared less
than ``patience`` ago and that no competitor has passed since, so the expected number
waiting when our taxi arrives is λ·(1 − e^(−m·T))/m (λ·T when m = 0); while it drives the
segment (τ seconds) new ones appear at λ·τ. Arrivals are Poisson, hence

    P(find) = 1 − exp(−λ · (τ + (1 − e^(−m·T)) / m)).

It is the same law the simulator's unserved-demand estimate uses (1 − e^(−μτ)).

That is what one taxi gains for itself. The fleet gains less: a passenger our taxi takes
might have been taken by the next taxi anyway. Served passengers per second on the segment
are S = λ·(1 − e^(−m·T)), so one more pass adds dS/dm = λ·T·e^(−m·T) — the window T·e^(−m·T)
instead of (1 − e^(−m·T))/m, much smaller where the segment is crowded. When only part of
the competition (m_g of m) is guided, the guided group's own pickups (its share m_g/m of S)
grow by λ·[(m_g/m)·T·e^(−m·T) + (m_o/m)·(1 − e^(−m·T))/m] per pass: the fleet view among
guided taxis, the selfish one against the others (``fleet_window_s``).
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


def fleet_window_s(others: FloatArray, guided: FloatArray, patience_s: float) -> FloatArray:
    """The waiting window that counts for the guided group as a whole (see the module)."""
    m = np.asarray(others, dtype=np.float64) + np.asarray(guided, dtype=np.float64)
    share = np.divide(guided, m, out=np.zeros_like(m), where=m > 0)
    marginal = patience_s * np.exp(-m * patience_s)
    out: FloatArray = share * marginal + (1.0 - share) * waiting_window_s(m, patience_s)
    return out


def find_probability(
    rate: FloatArray, travel_s: FloatArray, competition: FloatArray, patience_s: float,
    guided: FloatArray | None = None,
) -> FloatArray:  # fmt: skip
    """P(a taxi driving each segment finds a passenger on it) against ``competition`` (passes
    per second); with ``guided`` (the guided part of the competition, on top of it), the
    chance that counts for the guided group as a whole."""
    if guided is None:
        window = waiting_window_s(competition, patience_s)
    else:
        window = fleet_window_s(competition, guided, patience_s)
    return -np.expm1(-np.asarray(rate) * (np.asarray(travel_s) + window))
