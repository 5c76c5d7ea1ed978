"""Finite-horizon cruising MDP on the directed segment graph, vectorised over its CSR edges.

State: the segment a vacant taxi is finishing and the clock tick k (of ``tick_s`` seconds).
Action: a legal successor s' (the graph's moves: one-way streets respected, U-turns only at
dead ends). Driving s' takes ``ticks[s']`` ticks, earns ``reward[s']`` in expectation (chance
of a passenger there × expected fare − driving cost) and, without a passenger, continues
from (s', k + ticks[s']):

    q_k(s')  = reward(s') + (1 − p(s')) · V_{k + ticks(s')}(s'),   V_k = 0 for k ≥ K
    π_k(s'|s) ∝ exp(q_k(s') / temperature) over successors s' of s
    V_k(s)   = Σ π_k(s'|s) · q_k(s')

A temperature of 0 is the plain greedy optimum; a positive one (in dollars) spreads taxis
over near-equivalent moves, and ``V`` is then the value of that randomised policy, which is
the one the routes are drawn from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class TimeGraph:
    """The move graph with drive times in whole ticks."""

    succ_indptr: IntArray
    succ_indices: IntArray
    src: IntArray  # source segment of each edge
    ticks: IntArray  # ticks to drive each segment (≥ 1)
    travel_s: FloatArray
    tick_s: float

    @classmethod
    def build(cls, succ_indptr: IntArray, succ_indices: IntArray, travel_s: FloatArray,
              tick_s: float) -> TimeGraph:  # fmt: skip
        counts = np.diff(succ_indptr)
        if (counts == 0).any():
            bad = int(np.flatnonzero(counts == 0)[0])
            raise ValueError(f"segment {bad} has no legal successor (not strongly connected)")
        ticks = np.maximum(np.rint(travel_s / tick_s), 1).astype(np.int64)
        src = np.repeat(np.arange(counts.shape[0]), counts)
        return cls(succ_indptr, succ_indices, src, ticks, travel_s, tick_s)

    @property
    def n(self) -> int:
        return int(self.ticks.shape[0])


@dataclass(frozen=True)
class Solution:
    graph: TimeGraph
    q: FloatArray  # [K, n]: value of moving onto s' when deciding at tick k
    pi: FloatArray  # [K, edges]: π_k of every edge
    value: FloatArray  # [K + max ticks + 1, n]: V_k(s), zero from K on
    p: FloatArray  # chance of a passenger while driving each segment
    reward: FloatArray
    temperature: float

    @property
    def horizon(self) -> int:
        return int(self.q.shape[0])

    def choices(self, k: int, segment: int) -> tuple[IntArray, FloatArray]:
        """Successors of ``segment`` and their probabilities at tick k."""
        g = self.graph
        lo, hi = g.succ_indptr[segment], g.succ_indptr[segment + 1]
        return g.succ_indices[lo:hi], self.pi[min(k, self.horizon - 1), lo:hi]


def _edge_policy(g: TimeGraph, q: FloatArray, temperature: float) -> FloatArray:
    qe = q[g.succ_indices]
    top = np.maximum.reduceat(qe, g.succ_indptr[:-1])[g.src]
    if temperature <= 0:
        w = (qe == top).astype(np.float64)
    else:
        w = np.exp((qe - top) / temperature)
    out: FloatArray = w / np.add.reduceat(w, g.succ_indptr[:-1])[g.src]
    return out


def solve(
    g: TimeGraph, p: FloatArray, reward: FloatArray, horizon_ticks: int, temperature: float
) -> Solution:
    """Backward induction over ``horizon_ticks`` ticks (one pass over the edges per tick)."""
    n = g.n
    value = np.zeros((horizon_ticks + int(g.ticks.max()) + 1, n))
    q = np.empty((horizon_ticks, n))
    pi = np.empty((horizon_ticks, g.succ_indices.shape[0]))
    idx = np.arange(n)
    survive = 1.0 - p
    for k in range(horizon_ticks - 1, -1, -1):
        q[k] = reward + survive * value[k + g.ticks, idx]
        pi[k] = _edge_policy(g, q[k], temperature)
        value[k] = np.add.reduceat(pi[k] * q[k][g.succ_indices], g.succ_indptr[:-1])
    return Solution(g, q, pi, value, p, reward, temperature)


def propagate(
    g: TimeGraph, p: FloatArray, policy: FloatArray, horizon: int, start_tick: IntArray,
    start_segment: IntArray, weight: FloatArray,
) -> FloatArray:  # fmt: skip
    """Expected passes of each segment by vacant taxis that finish ``start_segment`` at
    ``start_tick`` and then move by ``policy`` — edge probabilities per tick ([K, edges], a
    solution's π) or fixed ([edges], drivers' own habits) — over K ticks; a taxi stops once
    it finds a passenger (chance ``p`` per segment driven)."""
    n = g.n
    mass = np.zeros((horizon + int(g.ticks.max()) + 1, n))
    np.add.at(mass, (np.minimum(start_tick, horizon), start_segment), weight)
    passes = np.zeros(n)
    idx = np.arange(n)
    survive = 1.0 - p
    for k in range(horizon):
        here = mass[k]
        if not here.any():
            continue
        pi = policy[min(k, policy.shape[0] - 1)] if policy.ndim == 2 else policy
        arrive = np.bincount(g.succ_indices, weights=here[g.src] * pi, minlength=n)
        passes += arrive
        mass[k + g.ticks, idx] += arrive * survive
    return passes


def rollout(
    sol: Solution, segment: int, start_tick: int, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """One route drawn from the policy: the segments entered and the tick each is entered."""
    g = sol.graph
    segs: list[int] = []
    ticks: list[int] = []
    k, s = start_tick, segment
    while k < sol.horizon:
        succ, prob = sol.choices(k, s)
        s = int(succ[0] if succ.shape[0] == 1 else succ[rng.choice(succ.shape[0], p=prob)])
        segs.append(s)
        ticks.append(k)
        k += int(g.ticks[s])
    return np.array(segs, dtype=np.int64), np.array(ticks, dtype=np.int64)
