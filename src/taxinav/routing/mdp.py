"""Finite-horizon cruising MDP on the directed segment graph, vectorised over its CSR edges.

State: the segment a vacant taxi is finishing and the clock tick k (of ``tick_s`` seconds).
Action: a legal successor s' (the graph's moves: one-way streets respected, U-turns only at
dead ends), or — where drivers are seen to stand (taxi stands, hotel ranks) — waiting there
one tick, which catches the passengers appearing meanwhile. Driving s' takes ``ticks[s']``
ticks, earns ``reward[s']`` in expectation (chance of a passenger there × expected fare −
driving cost) and, without a passenger, continues from (s', k + ticks[s']):

    q_k(s')  = reward(s') + (1 − p(s')) · γ(s') · V_{k + ticks(s')}(s'),   V_k = 0 for k ≥ K
    w_k(s)   = p_wait(s) · fare(s) + (1 − p_wait(s)) · γ₁ · V_{k + 1}(s)    (waiting, if allowed)
    π_k(·|s) ∝ exp(q / temperature) over the moves of s
    V_k(s)   = Σ π_k(·|s) · q

with γ the discount over the time the move takes: a fare found sooner is worth more.

A temperature of 0 is the plain greedy optimum; a positive one (in dollars) spreads taxis
over near-equivalent moves, and ``V`` is then the value of that randomised policy, which is
the one the routes are drawn from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from taxinav.roads.graph import FloatArray, IntArray

__all__ = ["FloatArray", "IntArray", "Solution", "TimeGraph", "propagate", "rollout", "rollouts",
           "solve"]  # fmt: skip


@dataclass(frozen=True)
class TimeGraph:
    """The move graph with drive times in whole ticks."""

    succ_indptr: IntArray
    succ_indices: IntArray
    src: IntArray  # source segment of each edge
    ticks: IntArray  # ticks to drive each segment (≥ 1)
    travel_s: FloatArray
    tick_s: float
    # Successors as a padded [slot, segment] table: the out-degree is at most a handful, and
    # reducing over a short leading axis is much faster in numpy than CSR segment reductions.
    # The last row is "wait here": pad = the segment itself, allowed where ``can_wait``.
    pad: IntArray
    mask: NDArray[np.bool_]  # real moves
    slot: IntArray  # slot of each CSR edge

    @classmethod
    def build(cls, succ_indptr: IntArray, succ_indices: IntArray, travel_s: FloatArray,
              tick_s: float, can_wait: NDArray[np.bool_] | None = None) -> TimeGraph:  # fmt: skip
        counts = np.diff(succ_indptr)
        if (counts == 0).any():
            bad = int(np.flatnonzero(counts == 0)[0])
            raise ValueError(f"segment {bad} has no legal successor (not strongly connected)")
        ticks = np.maximum(np.rint(travel_s / tick_s), 1).astype(np.int64)
        n = counts.shape[0]
        src = np.repeat(np.arange(n), counts)
        col = np.arange(succ_indices.shape[0]) - succ_indptr[src]
        pad = np.repeat(succ_indices[succ_indptr[:-1]][None, :], int(counts.max()) + 1, axis=0)
        pad[col, src] = succ_indices
        pad[-1] = np.arange(n)
        mask = np.zeros(pad.shape, dtype=bool)
        mask[col, src] = True
        mask[-1] = can_wait if can_wait is not None else False
        return cls(succ_indptr, succ_indices, src, ticks, travel_s, tick_s, pad, mask, col)

    def padded(self, edge_values: FloatArray) -> FloatArray:
        """Per-edge values (CSR order) laid out like ``pad`` (0 where there is no move)."""
        out = np.zeros(self.pad.shape)
        out[self.slot, self.src] = edge_values
        return out

    @property
    def n(self) -> int:
        return int(self.ticks.shape[0])


@dataclass(frozen=True)
class Solution:
    graph: TimeGraph
    q: FloatArray  # [K, n]: value of moving onto s' when deciding at tick k
    pi: FloatArray  # [K, slot, segment]: π_k of every move, laid out like ``graph.pad``
    value: FloatArray  # [K + max ticks + 1, n]: V_k(s), zero from K on
    p: FloatArray  # chance of a passenger while driving each segment
    reward: FloatArray
    temperature: float
    p_wait: FloatArray  # chance of a passenger while waiting one tick on each segment

    @property
    def horizon(self) -> int:
        return int(self.q.shape[0])

    def choices(self, k: int, segment: int) -> tuple[IntArray, FloatArray]:
        """Successors of ``segment`` and their probabilities at tick k."""
        g = self.graph
        m = g.mask[:, segment]
        return g.pad[m, segment], self.pi[min(k, self.horizon - 1), m, segment]


def _move_policy(g: TimeGraph, qe: FloatArray, temperature: float) -> FloatArray:
    """π over each segment's moves, given the value ``qe`` of each move (padded layout)."""
    qe = np.where(g.mask, qe, -np.inf)
    top = qe.max(axis=0, keepdims=True)
    if temperature <= 0:
        w = (qe == top).astype(np.float64)
    else:
        w = np.exp((qe - top) / temperature)
    out: FloatArray = w / w.sum(axis=0, keepdims=True)
    return out


def solve(
    g: TimeGraph, p: FloatArray, reward: FloatArray, horizon_ticks: int, temperature: float,
    p_wait: FloatArray | None = None, wait_reward: FloatArray | None = None,
    discount_per_min: float = 1.0,
) -> Solution:  # fmt: skip
    """Backward induction over ``horizon_ticks`` ticks (one pass over the moves per tick).
    ``discount_per_min`` < 1 values a fare found sooner more than one found later."""
    p_wait = p_wait if p_wait is not None else np.zeros(g.n)
    wait_reward = wait_reward if wait_reward is not None else np.zeros(g.n)
    n = g.n
    value = np.zeros((horizon_ticks + int(g.ticks.max()) + 1, n))
    q = np.empty((horizon_ticks, n))
    pi = np.empty((horizon_ticks, *g.pad.shape))
    idx = np.arange(n)
    later = discount_per_min ** (g.ticks * g.tick_s / 60.0)  # per segment driven
    survive = (1.0 - p) * later
    stay = (1.0 - p_wait) * discount_per_min ** (g.tick_s / 60.0)
    for k in range(horizon_ticks - 1, -1, -1):
        q[k] = reward + survive * value[k + g.ticks, idx]
        qe = q[k][g.pad]
        qe[-1] = wait_reward + stay * value[k + 1]
        pi[k] = _move_policy(g, qe, temperature)
        value[k] = (pi[k] * qe).sum(axis=0)
    return Solution(g, q, pi, value, p, reward, temperature, p_wait)


def propagate(
    g: TimeGraph, p: FloatArray, policy: FloatArray, horizon: int, start_tick: IntArray,
    start_segment: IntArray, weight: FloatArray, p_wait: FloatArray | None = None,
) -> FloatArray:  # fmt: skip
    """Expected passes of each segment by vacant taxis that finish ``start_segment`` at
    ``start_tick`` and then move by ``policy`` — move probabilities per tick (a solution's π,
    [K, slot, segment]) or fixed ([slot, segment], drivers' own habits; see
    ``TimeGraph.padded``) — over K ticks; a taxi stops once it finds a passenger (chance
    ``p`` per segment driven, ``p_wait`` per tick waited). A tick of waiting counts as a pass:
    it takes whoever is waiting there, as a passing taxi would."""
    n = g.n
    mass = np.zeros((horizon + int(g.ticks.max()) + 1, n))
    np.add.at(mass, (np.minimum(start_tick, horizon), start_segment), weight)
    passes = np.zeros(n)
    idx = np.arange(n)
    survive = 1.0 - p
    stay_survive = 1.0 - (p_wait if p_wait is not None else np.zeros(n))
    moves = g.pad[:-1].ravel()
    for k in range(horizon):
        here = mass[k]
        if not here.any():
            continue
        pi = policy[min(k, policy.shape[0] - 1)] if policy.ndim == 3 else policy
        arrive = np.bincount(moves, weights=(here[None, :] * pi[:-1]).ravel(), minlength=n)
        stay = here * pi[-1]
        passes += arrive + stay
        mass[k + g.ticks, idx] += arrive * survive
        mass[k + 1] += stay * stay_survive
    return passes


def rollouts(
    sol: Solution, segment: IntArray, start_s: FloatArray, rng: np.random.Generator,
    until_s: float | None = None, receding: bool = False,
) -> list[tuple[IntArray, FloatArray]]:  # fmt: skip
    """One route per taxi drawn from the policy, all taxis stepped together: for each, the
    segments entered (the same segment again: one tick of waiting) and the second each step
    begins (``start_s``: when the taxi reaches the end of its current segment), until
    ``until_s`` (default: the horizon). Time runs in real drive seconds, not in rounded
    ticks. ``receding``: every step uses the full look-ahead policy π_0 (re-planning at
    every step), so routes may be longer than the look-ahead."""
    end = until_s if until_s is not None else sol.horizon * sol.graph.tick_s
    if segment.shape[0] == 1:  # a single route (a re-draw on request): stepped in Python
        return [_rollout_one(sol, int(segment[0]), float(start_s[0]), rng, end, receding)]
    return _rollouts_together(sol, segment, start_s, rng, end, receding)


def _rollouts_together(sol: Solution, segment: IntArray, start_s: FloatArray,
                       rng: np.random.Generator, end: float,
                       receding: bool) -> list[tuple[IntArray, FloatArray]]:  # fmt: skip
    g = sol.graph
    s, t = segment.astype(np.int64).copy(), start_s.astype(np.float64).copy()
    steps: list[tuple[IntArray, IntArray, FloatArray]] = []
    active = np.flatnonzero(t < end)
    while active.size:
        tick = np.minimum((t[active] // g.tick_s).astype(np.int64), sol.horizon - 1)
        at = np.zeros(active.size, dtype=np.int64) if receding else tick
        prob = sol.pi[at, :, s[active]]  # [taxi, slot]
        u = rng.random(active.size)[:, None]
        pick = np.minimum((u >= prob.cumsum(axis=1)).sum(axis=1), g.pad.shape[0] - 1)
        # Never a padding slot, even when rounding leaves the cumulative sum just below u.
        pick = np.where(g.mask[pick, s[active]], pick, prob.argmax(axis=1))
        nxt = g.pad[pick, s[active]]
        steps.append((active, nxt, t[active].copy()))
        s[active] = nxt
        waited = pick == g.pad.shape[0] - 1
        t[active] += np.where(waited, g.tick_s, g.travel_s[nxt])
        active = active[t[active] < end]
    out: list[tuple[list[int], list[float]]] = [([], []) for _ in range(segment.shape[0])]
    for who, nxt, when in steps:
        for i, a, b in zip(who.tolist(), nxt.tolist(), when.tolist(), strict=True):
            out[i][0].append(a)
            out[i][1].append(b)
    return [(np.array(a, dtype=np.int64), np.array(b, dtype=np.float64)) for a, b in out]


def _rollout_one(sol: Solution, seg: int, t: float, rng: np.random.Generator, end: float,
                 receding: bool) -> tuple[IntArray, FloatArray]:  # fmt: skip
    """``rollouts`` of one taxi, step for step the same draws and arithmetic without the
    per-step cost of numpy calls on one-element arrays (~10× faster for one route)."""
    g = sol.graph
    wait_slot = g.pad.shape[0] - 1
    segs: list[int] = []
    times: list[float] = []
    while t < end:
        at = 0 if receding else min(int(t // g.tick_s), sol.horizon - 1)
        prob = sol.pi[at, :, seg].tolist()
        u = rng.random()
        pick, acc = 0, 0.0
        for p in prob:  # the first slot whose cumulative probability exceeds u
            acc += p
            pick += u >= acc
        pick = min(pick, wait_slot)
        if not g.mask[pick, seg]:
            pick = prob.index(max(prob))
        nxt = int(g.pad[pick, seg])
        segs.append(nxt)
        times.append(t)
        seg = nxt
        t += g.tick_s if pick == wait_slot else float(g.travel_s[nxt])
    return np.array(segs, dtype=np.int64), np.array(times, dtype=np.float64)


def rollout(
    sol: Solution, segment: int, start_s: float, rng: np.random.Generator
) -> tuple[IntArray, FloatArray]:
    """One route drawn from the policy: the segments entered and when each step begins."""
    return rollouts(sol, np.array([segment]), np.array([start_s]), rng)[0]
