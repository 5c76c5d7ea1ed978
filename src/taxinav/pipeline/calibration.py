"""Calibrate the simulator's one free parameter, the booking share, on days before a period.

The criteria are those the simulator must meet against real data (historical-behaviour
policy, real fleet): median and mean vacant time before a pickup and occupancy within 20 %,
the median within 25 % in every 4-hour block, and at least 80 % of real pickups served. Each
criterion is scaled so that 1.0 is its tolerance; a day's error is the worst criterion, and
the share with the lowest mean error over the calibration days wins (ties: the smaller
share). Only days before the simulated period are used, and the policies are learned from
days before those, so nothing is fitted to the period being judged.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date, timedelta
from typing import Any

import duckdb

from taxinav.features import data_period
from taxinav.features.calendar import local_midnight
from taxinav.settings import Settings

log = logging.getLogger(__name__)

TOLERANCE = {"vacant_median_min": 0.20, "vacant_mean_min": 0.20, "occupancy": 0.20}
BLOCK_TOLERANCE = 0.25
MIN_SERVED = 0.80
VERSION = 1  # bump when the simulator changes what a calibration would find


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


def choose_share(errors: dict[float, list[float]]) -> float:
    """The share with the lowest mean error; the smaller share on ties."""
    return min(errors, key=lambda s: (sum(errors[s]) / len(errors[s]), s))


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
    """Run the historical policy on the calibration days with every share of the grid."""
    from taxinav.pipeline import simulation

    days = calibration_days(con, settings, start)
    if not days:
        log.warning("no day before %s to calibrate on; booking share 0", start)
        return {"dispatch_share": 0.0, "days": [], "rows": []}
    period = simulation.prepare(con, settings, days[0], ["historical"])
    rows: list[dict[str, Any]] = []
    errors: dict[float, list[float]] = {s: [] for s in settings.sim.dispatch_grid}
    for i, day in enumerate(days):
        world = simulation.day_world(con, settings, period, day, i)
        origin = local_midnight(day, settings.tz)
        real = simulation.real_kpis(
            con, period.graph, origin, origin + timedelta(days=1), settings.timezone
        )
        for share in settings.sim.dispatch_grid:
            log.info("calibrating on %s with booking share %.2f", day, share)
            _, kpis, _ = simulation.run_seed(world, period, settings, day, 0, 1.0, share)
            g = kpis["groups"][0]
            sim = {
                "vacant_median_min": g["vacant_before_pickup"]["median_min"],
                "vacant_mean_min": g["vacant_before_pickup"]["mean_min"],
                "occupancy": g["occupancy"],
            }
            served = kpis["served"] / kpis["requests"]
            terms = calibration_error(sim, g["vacant_median_by_block"], real, served)
            errors[share].append(terms["error"])
            rows.append({"day": day.isoformat(), "dispatch_share": share, "sim": sim,
                         "sim_blocks": g["vacant_median_by_block"], "served_share": served,
                         "real": real, "terms": terms})  # fmt: skip
    best = choose_share(errors)
    return {"dispatch_share": best, "days": [d.isoformat() for d in days], "rows": rows}


def calibrated_dispatch_share(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: date
) -> float:
    """The calibrated share for a period starting at ``start``, computed once and cached."""
    path = settings.home / "sim" / "calibration" / f"{start.isoformat()}.json"
    key = _fingerprint(settings, start)
    if path.exists():
        cached = json.loads(path.read_text())
        if cached.get("fingerprint") == key:
            return float(cached["dispatch_share"])
    result = {"fingerprint": key, **calibrate(con, settings, start)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, default=float))
    return float(result["dispatch_share"])
