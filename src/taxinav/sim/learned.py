"""Policies learned from data before the simulated period (never from the period itself)."""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from taxinav.sim.policies import WAIT_S, Hotspot
from taxinav.sim.world import Network

BLOCK_H = 4  # time-of-day resolution of learned behaviour
_SHRINK = 5.0  # visits' worth of weight the block-wide mean gets in each segment's estimate


class HistoricalBehaviour:
    """Drivers' own cruising: next-segment frequencies from map-matched vacant spells by
    4-hour block (fallback: all hours, then uniform), and waiting on a segment so that the
    mean extra time spent there matches the data (real vacant cabs stand still a lot)."""

    name = "historical"

    def __init__(
        self, network: Network, transitions: dict[tuple[int, int], tuple[NDArray[np.int64],
                                                                             NDArray[np.float64]]],
        p_wait: NDArray[np.float64], origin_hour: int,
    ) -> None:  # fmt: skip
        self.network = network
        self.transitions = transitions
        self.p_wait = p_wait  # [block, segment]
        self.origin_hour = origin_hour

    def choose(self, vehicle: int, segment: int, t: float, rng: np.random.Generator) -> int:
        block = ((self.origin_hour + int(t // 3600)) % 24) // BLOCK_H
        if rng.random() < self.p_wait[block, segment]:
            return segment
        for key in ((block, segment), (-1, segment)):
            found = self.transitions.get(key)
            if found is not None:
                nxt, cum = found
                return int(nxt[np.searchsorted(cum, rng.random() * cum[-1], side="right")])
        succ = self.network.successors(segment)
        return int(succ[rng.integers(succ.shape[0])])


def learn_historical(
    con: duckdb.DuckDBPyConnection, network: Network, before: datetime, tz_name: str,
    origin_hour: int, exclude: tuple[datetime, datetime] | None = None,
) -> HistoricalBehaviour:  # fmt: skip
    """Aggregated in the warehouse (millions of matched steps become one row per move and
    block); the extra dwell is summed in whole milliseconds so the sums do not depend on
    the order a parallel aggregate adds them in. ``exclude``: a window (one day being
    calibrated on) whose spells are left out."""
    con.register("_segment_travel", pa.table({
        "s": np.arange(network.n_segments), "travel_s": network.travel_s,
    }))  # fmt: skip
    try:
        moves = con.sql(
            f"""
            WITH p AS (
                SELECT segment_id AS s, hour(timezone('{tz_name}', ts)) // {BLOCK_H} AS block,
                       lead(segment_id) OVER w AS nxt, lead(piece) OVER w AS nxt_piece, piece,
                       epoch(lead(ts) OVER w) - epoch(ts) AS dwell
                FROM spell_paths WHERE ts < $before AND NOT (ts >= $x0 AND ts < $x1)
                WINDOW w AS (PARTITION BY spell_id ORDER BY seq))
            SELECT p.s, block, nxt, count(*) AS n,
                   sum(round(least(greatest(dwell - t.travel_s, 0), 1800) * 1000)::BIGINT)
                       AS extra_ms
            FROM p JOIN _segment_travel t ON t.s = p.s
            WHERE nxt IS NOT NULL AND nxt_piece = piece
            GROUP BY ALL ORDER BY ALL""",
            params={
                "before": before,
                "x0": exclude[0] if exclude else before,
                "x1": exclude[1] if exclude else before,
            },
        ).fetchnumpy()
    finally:
        con.unregister("_segment_travel")
    s, block, nxt = (np.asarray(moves[k], dtype=np.int64) for k in ("s", "block", "nxt"))
    count = np.asarray(moves["n"], dtype=np.float64)
    extra = np.asarray(moves["extra_ms"], dtype=np.float64) / 1000.0
    # Matched paths are legal by construction; keep only legal moves all the same.
    n = network.n_segments
    src = np.repeat(np.arange(n), np.diff(network.succ_indptr))
    legal = np.isin(s * n + nxt, src * n + network.succ_indices)
    s, block, nxt, count, extra = s[legal], block[legal], nxt[legal], count[legal], extra[legal]
    transitions = _transitions(s, block, nxt, count)
    return HistoricalBehaviour(
        network, transitions, _wait_probability(network, s, block, extra, count), origin_hour
    )


def _transitions(
    s: NDArray[np.int64], block: NDArray[np.int64], nxt: NDArray[np.int64],
    count: NDArray[np.float64] | None = None,
) -> dict[tuple[int, int], tuple[NDArray[np.int64], NDArray[np.float64]]]:  # fmt: skip
    """Cumulative next-segment counts per (block, segment) and per (-1, segment): all
    blocks. ``count`` weighs each observed move (default 1)."""
    out: dict[tuple[int, int], tuple[NDArray[np.int64], NDArray[np.float64]]] = {}
    if s.size == 0:  # no matched paths yet (a new city): drivers' habits are unknown
        return out
    weight = np.ones(s.shape[0]) if count is None else count
    for keys in ((block, s), (np.full_like(s, -1), s)):
        table = np.stack([keys[0], keys[1], nxt], axis=1)
        uniq, inverse = np.unique(table, axis=0, return_inverse=True)
        counts = np.bincount(inverse.ravel(), weights=weight, minlength=len(uniq))
        bounds = np.flatnonzero(np.r_[True, np.any(uniq[1:, :2] != uniq[:-1, :2], axis=1)])
        for a, b in zip(bounds, np.r_[bounds[1:], len(uniq)], strict=True):
            out[(int(uniq[a, 0]), int(uniq[a, 1]))] = (
                uniq[a:b, 2].copy(),
                np.cumsum(counts[a:b]).astype(np.float64),
            )
    return out


def _wait_probability(
    network: Network, s: NDArray[np.int64], block: NDArray[np.int64], extra: NDArray[np.float64],
    count: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:  # fmt: skip
    """Per decision, waiting WAIT_S with probability p gives p/(1-p)·WAIT_S expected extra
    time; p is set so that equals the (shrunken) mean extra dwell seen in the data.
    ``extra`` is the extra dwell of each row, summed over its ``count`` visits (default 1)."""
    n_blocks = 24 // BLOCK_H
    weight = np.ones(s.shape[0]) if count is None else count
    p = np.zeros((n_blocks, network.n_segments))
    for b in range(n_blocks):
        m = block == b
        visits = np.bincount(s[m], weights=weight[m], minlength=network.n_segments)
        total = np.bincount(s[m], weights=extra[m], minlength=network.n_segments)
        block_mean = float(extra[m].sum() / weight[m].sum()) if m.any() else 0.0
        mean_extra = (total + _SHRINK * block_mean) / (visits + _SHRINK)
        p[b] = mean_extra / (mean_extra + WAIT_S)
    return p


def learn_hotspot(
    con: duckdb.DuckDBPyConnection, network: Network, before: datetime, tz_name: str,
    origin_hour: int,
) -> Hotspot:  # fmt: skip
    """Forecast demand = mean matched pickups per hour of day on each segment, prior days."""
    rows = con.sql(
        f"""SELECT segment_id, hour(timezone('{tz_name}', ts)) AS h, count(*) AS n,
                   count(DISTINCT ts::DATE) AS d
            FROM trip_end_matches WHERE end_kind = 'pickup' AND status = 'matched'
              AND ts < $before GROUP BY ALL""",
        params={"before": before},
    ).fetchall()
    days = con.sql(
        "SELECT count(DISTINCT timezone($tz, ts)::DATE) FROM trip_end_matches WHERE ts < $b",
        params={"tz": tz_name, "b": before},
    ).fetchall()[0][0]
    rate = np.zeros((24, network.n_segments))
    for seg, h, n, _ in rows:
        rate[int(h), int(seg)] += n / max(int(days), 1)
    return Hotspot(network, rate, origin_hour)
