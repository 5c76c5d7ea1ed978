"""Calibrate the simulator's one free parameter, the booking share, on days before a period.

The criteria are those the simulator must meet against real data (historical-behaviour
policy, real fleet): median and mean vacant time before a pickup and occupancy within 20 %,
the median within 25 % in every 4-hour block, and at least 80 % of real pickups served. Each
criterion is scaled so that 1.0 is its tolerance.

Bookings are not a constant share of the rides: before dawn street hails are rare and the
real cabs found their few passengers in a third of the time a hail-only simulation needs
(2008-06-01, 05–07 h: 14–22 vs 7–10 min), while in the evening rush hails dominate. So the
share is chosen per 4-hour block: every share of the grid is run on each calibration day,
and each block takes the share whose median vacant time is least biased against the real one
over the days (ties: the smaller share). A served share per block was tried as a second
term and rejected: evening and dawn blocks serve under 80 % at any share, so it pushed their
shares to the top of the grid and made the day's median 20–25 % too short. The chosen shares
are then run once more to record the day-level errors. Only days before the
simulated period are used, and the policies are learned from days before those, so nothing
is fitted to the period being judged.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from taxinav.features import data_period
from taxinav.features.calendar import local_midnight
from taxinav.settings import Settings

log = logging.getLogger(__name__)

TOLERANCE = {"vacant_median_min": 0.20, "vacant_mean_min": 0.20, "occupancy": 0.20}
BLOCK_TOLERANCE = 0.25
MIN_SERVED = 0.80
N_BLOCKS = 6
VERSION = 3  # bump when the simulator changes what a calibration would find


def calibration_error(
    sim: dict[str, float], sim_blocks: dict[int, float], real: dict[str, Any], served: float
) -> dict[str, float]:
    """Each criterion's deviation over its tolerance (≤ 1 passes) and the worst of them.

    ``sim`` holds the simulated median/mean vacant minutes and occupancy under the same keys
    as ``real``; blocks map a 4-hour block to its median vacant minutes.
    """
    terms = {k: abs(sim[k] / real[k] - 1.0) / tol for k, tol in TOLERANCE.items()}
    real_blocks = {int(b): v for b, v in real["vacant_median_by_block"].items()}
    blocks = [
        abs(v / real_blocks[b] - 1.0) / BLOCK_TOLERANCE
        for b, v in sim_blocks.items()
        if b in real_blocks and real_blocks[b] > 0
    ]
    terms["worst_block"] = max(blocks, default=0.0)
    terms["served"] = (1.0 - served) / (1.0 - MIN_SERVED)
    terms["error"] = max(terms.values())
    return terms


def block_bias(sim_blocks: dict[int, float], real: dict[str, Any]) -> dict[int, float]:
    """Per 4-hour block: the log of the simulated over the real median (0 is exact; a
    block the simulation has no spell in is missing)."""
    return {
        int(b): float(np.log(sim_blocks[int(b)] / value))
        for b, value in real["vacant_median_by_block"].items()
        if value > 0 and sim_blocks.get(int(b), 0.0) > 0
    }


def choose_shares(bias: dict[float, dict[int, list[float]]]) -> tuple[float, ...]:
    """Per block, the share whose median is least biased over the days (the smallest
    absolute mean log ratio: one day's noise cannot be calibrated away, a systematic
    deviation can); the smaller share on ties and for a block no day has."""
    shares = sorted(bias)
    chosen = []
    for b in range(N_BLOCKS):
        scored = [(abs(float(np.mean(bias[s][b]))), s) for s in shares if bias[s].get(b)]
        chosen.append(min(scored)[1] if scored else shares[0])
    return tuple(chosen)


def calibration_days(con: duckdb.DuckDBPyConnection, settings: Settings,
                     start: date) -> list[date]:  # fmt: skip
    """Up to ``calibration_days`` days right before ``start``, leaving at least one earlier
    full day to learn the policies from."""
    origin, _ = data_period(con, settings.tz, settings.forecast.slot_minutes)
    first_full = origin.astimezone(settings.tz).date() + timedelta(days=1)
    n = settings.sim.calibration_days
    return [start - timedelta(days=n - i) for i in range(n)
            if start - timedelta(days=n - i) > first_full]  # fmt: skip


def _fingerprint(settings: Settings, start: date) -> str:
    sim = settings.sim.model_dump(exclude={"dispatch_share"})
    blob = json.dumps([VERSION, start.isoformat(), sim, settings.seed], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def calibrate(con: duckdb.DuckDBPyConnection, settings: Settings, start: date) -> dict[str, Any]:
    """Run the historical policy on the calibration days with every share of the grid, choose
    a share per block, and record how the chosen shares do."""
    from taxinav.pipeline import simulation

    days = calibration_days(con, settings, start)
    if not days:
        log.warning("no day before %s to calibrate on; booking share 0", start)
        return {"dispatch_share": [0.0] * N_BLOCKS, "days": [], "rows": []}
    period = simulation.prepare(con, settings, days[0], ["historical"])
    grid = settings.sim.dispatch_grid
    worlds = [simulation.day_world(con, settings, period, day, i) for i, day in enumerate(days)]
    reals = []
    for day in days:
        origin = local_midnight(day, settings.tz)
        reals.append(simulation.real_kpis(
            con, period.graph, origin, origin + timedelta(days=1), settings.timezone
        ))  # fmt: skip
    rows: list[dict[str, Any]] = []
    bias: dict[float, dict[int, list[float]]] = {s: {} for s in grid}

    def run(day: date, world: Any, real: dict[str, Any], share: Any) -> dict[str, Any]:
        log.info("calibrating on %s with booking share %s", day, share)
        _, kpis, _ = simulation.run_seed(world, period, settings, day, 0, 1.0, share)
        g = kpis["groups"][0]
        sim = {
            "vacant_median_min": g["vacant_before_pickup"]["median_min"],
            "vacant_mean_min": g["vacant_before_pickup"]["mean_min"],
            "occupancy": g["occupancy"],
        }
        served = kpis["served"] / kpis["requests"]
        row = {"day": day.isoformat(), "dispatch_share": share, "sim": sim,
               "sim_blocks": g["vacant_median_by_block"],
               "served_blocks": kpis["served_share_by_block"], "served_share": served,
               "real": real, "terms": calibration_error(sim, g["vacant_median_by_block"],
                                                         real, served)}  # fmt: skip
        rows.append(row)
        return row

    for day, world, real in zip(days, worlds, reals, strict=True):
        for share in grid:
            row = run(day, world, real, share)
            for b, e in block_bias(row["sim_blocks"], real).items():
                bias[share].setdefault(b, []).append(e)
    chosen = choose_shares(bias)
    checks = [run(d, w, r, chosen)["terms"] for d, w, r in zip(days, worlds, reals, strict=True)]
    return {"dispatch_share": list(chosen), "days": [d.isoformat() for d in days],
            "chosen_terms": checks, "rows": rows}  # fmt: skip


def calibrated_dispatch_share(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: date
) -> tuple[float, ...]:
    """The calibrated shares per 4-hour block for a period starting at ``start``, computed
    once and cached."""
    cached = _cached(settings, start)
    if cached is not None:
        return cached
    result = {"fingerprint": _fingerprint(settings, start), **calibrate(con, settings, start)}
    path = _cache_path(settings, start)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, default=float))
    return tuple(float(x) for x in result["dispatch_share"])


def _cache_path(settings: Settings, start: date) -> Path:
    return settings.home / "sim" / "calibration" / f"{start.isoformat()}.json"


def _cached(settings: Settings, start: date) -> tuple[float, ...] | None:
    """The shares stored for ``start`` if they were calibrated with the current settings."""
    path = _cache_path(settings, start)
    if not path.exists():
        return None
    cached = json.loads(path.read_text())
    if cached.get("fingerprint") != _fingerprint(settings, start):
        return None
    return tuple(float(x) for x in cached["dispatch_share"])


def cached_dispatch_share(settings: Settings, day: date) -> tuple[float, ...] | None:
    """The shares of the latest calibration already computed for a period starting on or
    before ``day`` (the service's replay must not spend minutes calibrating)."""
    if settings.sim.dispatch_share is not None:
        return (settings.sim.dispatch_share,)
    folder = _cache_path(settings, day).parent
    for path in sorted(folder.glob("*.json"), reverse=True) if folder.exists() else []:
        try:
            start = date.fromisoformat(path.stem)
        except ValueError:
            continue
        shares = _cached(settings, start) if start <= day else None
        if shares is not None:
            return shares
    return None
