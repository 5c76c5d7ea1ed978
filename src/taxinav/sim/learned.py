"""Policies learned from data before the simulated period (never from the period itself)."""

from __future__ import annotations

import copy
import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from taxinav.calendar import holiday_dates, is_day_off
from taxinav.sim.policies import WAIT_S, Hotspot
from taxinav.sim.world import Network

BLOCK_H = 4  # time-of-day resolution of learned behaviour
_SHRINK = 5.0  # visits' worth of weight the block-wide mean gets in each segment's estimate


Transitions = dict[tuple[int, ...], tuple[NDArray[np.int64], NDArray[np.float64]]]


@dataclasses.dataclass
class HistoricalBehaviour:
    """Drivers' own cruising: next-segment frequencies from map-matched vacant spells by
    4-hour block (fallback: all hours, then uniform), and waiting on a segment so that the
    mean extra time spent there matches the data (real vacant cabs stand still a lot).

    Working days and days off (weekends, holidays) are learned apart too — a Saturday
    dawn after a night out is not a Tuesday's — and, once ``on_day`` has said which the
    simulated day is, a segment's day-kind frequencies count as many visits as were seen,
    against ``_SHRINK`` visits' worth of the all-days ones. ``on_day`` also places the
    simulated times in the local day (until then t = 0 is local midnight)."""

    network: Network
    transitions: Transitions  # (block, segment) and (-1, segment): all days
    p_wait: NDArray[np.float64]  # [block, segment]: all days, or the day's kind after on_day
    kind_transitions: Transitions = dataclasses.field(default_factory=dict)  # (kind, block, s)
    kind_p_wait: NDArray[np.float64] | None = None  # [kind, block, segment]
    day_off: bool | None = None  # the simulated day's kind (None: all days alike)
    origin_hour: int = dataclasses.field(default=0, init=False)  # local hour at t = 0
    name = "historical"

    def on_day(self, origin: datetime, tz: ZoneInfo) -> HistoricalBehaviour:
        """The same habits for the day starting at ``origin``: its local hours (read in
        ``tz``), its kind's standing and (in ``choose``) its kind's turns."""
        local = origin.astimezone(tz)
        if self.kind_p_wait is None:
            out = copy.copy(self)
        else:
            day_off = is_day_off(local.date())
            out = dataclasses.replace(self, day_off=day_off,
                                      p_wait=self.kind_p_wait[int(day_off)])  # fmt: skip
        out.origin_hour = local.hour
        return out

    def choose(self, vehicle: int, segment: int, t: float, rng: np.random.Generator) -> int:
        block = ((self.origin_hour + int(t // 3600)) % 24) // BLOCK_H
        if rng.random() < self.p_wait[block, segment]:
            return segment
        if self.day_off is not None:
            found = self.kind_transitions.get((int(self.day_off), block, segment))
            if found is not None:
                nxt, cum = found
                u = rng.random() * (cum[-1] + _SHRINK)
                if u < cum[-1]:
                    return int(nxt[np.searchsorted(cum, u, side="right")])
        for key in ((block, segment), (-1, segment)):
            found = self.transitions.get(key)
            if found is not None:
                nxt, cum = found
                return int(nxt[np.searchsorted(cum, rng.random() * cum[-1], side="right")])
        succ = self.network.successors(segment)
        return int(succ[rng.integers(succ.shape[0])])


def learn_historical(
    con: duckdb.DuckDBPyConnection, network: Network, before: datetime, tz: ZoneInfo,
    exclude: tuple[datetime, datetime] | None = None,
) -> HistoricalBehaviour:  # fmt: skip
    """Aggregated in the warehouse (millions of matched steps become one row per move and
    block of the local day in ``tz``); the extra dwell is summed in whole milliseconds so the
    sums do not depend on the order a parallel aggregate adds them in. ``exclude``: a window
    (one day being calibrated on) whose spells are left out."""
    con.register("_segment_travel", pa.table({
        "s": np.arange(network.n_segments), "travel_s": network.travel_s,
    }))  # fmt: skip
    try:
        moves = con.sql(
            f"""
            WITH p AS (
                SELECT segment_id AS s, hour(timezone('{tz.key}', ts)) // {BLOCK_H} AS block,
                       (dayofweek(timezone('{tz.key}', ts)) IN (0, 6)
                        OR list_contains($holidays, timezone('{tz.key}', ts)::DATE))::INT
                           AS kind,
                       lead(segment_id) OVER w AS nxt, lead(piece) OVER w AS nxt_piece, piece,
                       epoch(lead(ts) OVER w) - epoch(ts) AS dwell
                FROM spell_paths WHERE ts < $before AND NOT (ts >= $x0 AND ts < $x1)
                WINDOW w AS (PARTITION BY spell_id ORDER BY seq))
            SELECT p.s, block, kind, nxt, count(*) AS n,
                   sum(round(least(greatest(dwell - t.travel_s, 0), 1800) * 1000)::BIGINT)
                       AS extra_ms
            FROM p JOIN _segment_travel t ON t.s = p.s
            WHERE nxt IS NOT NULL AND nxt_piece = piece
            GROUP BY ALL ORDER BY ALL""",
            params={
                "before": before,
                "x0": exclude[0] if exclude else before,
                "x1": exclude[1] if exclude else before,
                "holidays": holiday_dates(1990, before.year + 1),
            },
        ).fetchnumpy()
    finally:
        con.unregister("_segment_travel")
    s, block, kind, nxt = (
        np.asarray(moves[k], dtype=np.int64) for k in ("s", "block", "kind", "nxt")
    )
    count = np.asarray(moves["n"], dtype=np.float64)
    extra = np.asarray(moves["extra_ms"], dtype=np.float64) / 1000.0
    # Matched paths are legal by construction; keep only legal moves all the same.
    n = network.n_segments
    src = np.repeat(np.arange(n), np.diff(network.succ_indptr))
    legal = np.isin(s * n + nxt, src * n + network.succ_indices)
    s, block, kind, nxt = s[legal], block[legal], kind[legal], nxt[legal]
    count, extra = count[legal], extra[legal]
    transitions = _transitions(s, block, nxt, count)
    p_wait = _wait_probability(network, s, block, extra, count)
    kind_p_wait = np.stack([
        _wait_probability(network, s[kind == k], block[kind == k], extra[kind == k],
                          count[kind == k], prior=p_wait)
        for k in (0, 1)
    ])  # fmt: skip
    return HistoricalBehaviour(
        network, transitions, p_wait,
        kind_transitions=_cumulative((kind, block, s), nxt, count), kind_p_wait=kind_p_wait,
    )  # fmt: skip


def _transitions(
    s: NDArray[np.int64], block: NDArray[np.int64], nxt: NDArray[np.int64],
    count: NDArray[np.float64] | None = None,
) -> Transitions:  # fmt: skip
    """Cumulative next-segment counts per (block, segment) and per (-1, segment): all
    blocks. ``count`` weighs each observed move (default 1)."""
    out = _cumulative((block, s), nxt, count)
    out.update(_cumulative((np.full_like(s, -1), s), nxt, count))
    return out


def _cumulative(
    keys: tuple[NDArray[np.int64], ...], nxt: NDArray[np.int64],
    count: NDArray[np.float64] | None = None,
) -> Transitions:  # fmt: skip
    """Cumulative next-segment counts per distinct key (the tuple of ``keys`` values)."""
    out: Transitions = {}
    if nxt.size == 0:  # no matched paths yet (a new city): drivers' habits are unknown
        return out
    weight = np.ones(nxt.shape[0]) if count is None else count
    k = len(keys)
    table = np.stack([*keys, nxt], axis=1)
    uniq, inverse = np.unique(table, axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=weight, minlength=len(uniq))
    bounds = np.flatnonzero(np.r_[True, np.any(uniq[1:, :k] != uniq[:-1, :k], axis=1)])
    for a, b in zip(bounds, np.r_[bounds[1:], len(uniq)], strict=True):
        out[tuple(int(v) for v in uniq[a, :k])] = (
            uniq[a:b, k].copy(),
            np.cumsum(counts[a:b]).astype(np.float64),
        )
    return out


def _wait_probability(
    network: Network, s: NDArray[np.int64], block: NDArray[np.int64], extra: NDArray[np.float64],
    count: NDArray[np.float64] | None = None, prior: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:  # fmt: skip
    """Per decision, waiting WAIT_S with probability p gives p/(1-p)·WAIT_S expected extra
    time; p is set so that equals the (shrunken) mean extra dwell seen in the data.
    ``extra`` is the extra dwell of each row, summed over its ``count`` visits (default 1).
    Each segment's mean is shrunk towards its block's mean, or towards ``prior`` (a
    [block, segment] estimate as p) where given."""
    n_blocks = 24 // BLOCK_H
    weight = np.ones(s.shape[0]) if count is None else count
    p = np.zeros((n_blocks, network.n_segments))
    for b in range(n_blocks):
        m = block == b
        visits = np.bincount(s[m], weights=weight[m], minlength=network.n_segments)
        total = np.bincount(s[m], weights=extra[m], minlength=network.n_segments)
        if prior is not None:
            toward = prior[b] / (1.0 - prior[b]) * WAIT_S  # back to mean extra seconds
        else:
            toward = np.full(network.n_segments, extra[m].sum() / weight[m].sum() if m.any()
                             else 0.0)  # fmt: skip
        mean_extra = (total + _SHRINK * toward) / (visits + _SHRINK)
        p[b] = mean_extra / (mean_extra + WAIT_S)
    return p


def learn_hotspot(
    con: duckdb.DuckDBPyConnection, network: Network, before: datetime, tz: ZoneInfo
) -> Hotspot:
    """Forecast demand = mean matched pickups per local hour of day (in ``tz``) on each
    segment, prior days; ``Hotspot.on_day`` places a day's times in those hours."""
    rows = con.sql(
        f"""SELECT segment_id, hour(timezone('{tz.key}', ts)) AS h, count(*) AS n,
                   count(DISTINCT ts::DATE) AS d
            FROM trip_end_matches WHERE end_kind = 'pickup' AND status = 'matched'
              AND ts < $before GROUP BY ALL""",
        params={"before": before},
    ).fetchall()
    days = con.sql(
        "SELECT count(DISTINCT timezone($tz, ts)::DATE) FROM trip_end_matches WHERE ts < $b",
        params={"tz": tz.key, "b": before},
    ).fetchall()[0][0]
    rate = np.zeros((24, network.n_segments))
    for seg, h, n, _ in rows:
        rate[int(h), int(seg)] += n / max(int(days), 1)
    return Hotspot(network, rate)
