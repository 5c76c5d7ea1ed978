"""How much demand a replay misses, and an optional boost that adds it back.

A replay only contains hails that real taxis served. If hails on a segment arrive at rate λ
and wait τ seconds, and vacant taxis pass within reach at rate μ, a hail meets a taxi with
probability P = 1 − exp(−μ τ); the observed pickups are λ·P, so λ = observed / P. Passes are
pooled over the segments within reach (the match radius), per hour of day, from days before
the simulated period. The boost is capped: where taxis almost never pass, one observation
says little.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import NDArray

from taxinav.sim.world import Network, Requests, World


def meet_probability(passes_per_s: NDArray[np.float64], patience_s: float) -> NDArray[np.float64]:
    return np.asarray(1.0 - np.exp(-passes_per_s * patience_s))


def boost_factors(
    network: Network, passes: NDArray[np.float64], days: float, patience_s: float,
    cap: float = 3.0,
) -> NDArray[np.float64]:  # fmt: skip
    """``passes[h, s]``: vacant-taxi entries into segment s in hour h over ``days`` days.
    Returns 1/P per (hour, segment), pooled over each segment's reach, capped."""
    n = network.n_segments
    owner = np.repeat(np.arange(n), np.diff(network.near_indptr))
    pooled = np.zeros_like(passes)
    for h in range(passes.shape[0]):
        np.add.at(pooled[h], owner, passes[h, network.near_indices])
    rate = pooled / (max(days, 1e-9) * 3600.0)
    p = meet_probability(rate, patience_s)
    return np.asarray(np.minimum(1.0 / np.maximum(p, 1.0 / cap), cap))


def boosted(
    world: World, factor: NDArray[np.float64], rng: np.random.Generator,
    spread_s: float = 1800.0,
) -> World:  # fmt: skip
    """The world with Poisson(factor − 1) synthetic hails added per real one, same segment,
    trip and fare, at times spread uniformly within ±``spread_s``/2; sorted by time.
    ``factor[h, s]``: by the local hour of the hail (from the world's origin and time zone)."""
    requests = world.requests
    hour = (world.origin_hour + (requests.t // 3600).astype(int)) % 24
    extra = rng.poisson(np.maximum(factor[hour, requests.segment] - 1.0, 0.0))
    src = np.repeat(np.arange(len(requests)), extra)
    jitter = rng.uniform(-spread_s / 2, spread_s / 2, src.shape[0])
    t = np.concatenate([requests.t, np.clip(requests.t[src] + jitter, 0, None)])
    order = np.argsort(t, kind="stable")
    idx = np.concatenate([np.arange(len(requests)), src])[order]
    more = Requests(
        t[order],
        requests.segment[idx],
        requests.dropoff_segment[idx],
        requests.duration_s[idx],
        requests.fare[idx],
    )
    return dataclasses.replace(world, requests=more)


def unserved_share(observed: NDArray[np.float64], factor: NDArray[np.float64]) -> float:
    """Estimated share of demand never seen: 1 − observed / estimated, over all cells."""
    total = float((observed * factor).sum())
    return 1.0 - float(observed.sum()) / total if total > 0 else 0.0
