"""Calibrate the simulator's one free parameter, the booking share, on days before a period.

The criteria are those the simulator must meet against real data (historical-behaviour
policy, real fleet): median and mean vacant time before a pickup and occupancy within 20 %,
the median within 25 % in every 4-hour block, and at least 80 % of real pickups served. Each
criterion is scaled so that 1.0 is its tolerance.

Bookings are not a constant share of the rides: before dawn street hails are rare and the
real cabs found their few passengers in a third of the time a hail-only simulation needs,
while on a busy evening bookings lengthen the simulated wait. So the share is chosen per
4-hour block and per day from the block's demand pressure (``sim/booking.py``): every share
of the grid is run on each calibration day, a bias plane in share × log pressure is fitted
per block, and each simulated day takes, per block, the share where the plane crosses zero.
Two simpler rules were tried and rejected: a served share per block as a second term (it
pushed dawn and evening shares to the top of the grid and made the day's median 20–25 % too
short), and one share per block for every day (right for quiet weekday evenings or for busy
weekend nights, never both). The chosen shares are then run once more on each calibration
day to record the day-level errors. Only days before the simulated period are used. Each
calibration day is simulated with drivers' habits learned from every day before the period
except itself — as much history as the period's own runs get, none of it from the day being
matched (learning only from days before the first calibration day left a week of weekdays
with weekend habits: means 10–30 % too long, under 80 % served).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np

from taxinav.calendar import local_midnight
from taxinav.features import data_period
from taxinav.sim import runs
from taxinav.sim.booking import BookingModel, demand_pressure, fit_booking_model
from taxinav.sim.learned import HistoricalBehaviour, learn_historical
from taxinav.sim.policies import Policy

log = logging.getLogger(__name__)

TOLERANCE = {"vacant_median_min": 0.20, "vacant_mean_min": 0.20, "occupancy": 0.20}
BLOCK_TOLERANCE = 0.25
MIN_SERVED = 0.80
# Booking shares are raised until a day is predicted to serve this much more than the
# criterion: seeds alone move the served share by about half a point.
SERVED_MARGIN = 0.02
VERSION = 5  # bump when the simulator changes what a calibration would find


@dataclass(frozen=True)
class CalibrationConfig:
    """What a calibration reads besides the warehouse: the runs' configuration, how many
    days and which booking shares to run, where calibrated models are cached, and a fixed
    share that makes calibration unnecessary (``guidance.experiment.calibration_config``
    builds it from the settings)."""

    run: runs.RunConfig
    cache_dir: Path  # one JSON file per period start
    days: int  # calibration days right before a period
    grid: tuple[float, ...]  # booking shares run on each calibration day
    fixed_share: float | None = None  # a configured booking share: no calibration
    slot_minutes: int = 10  # the data's slot length (to find its first full day)

    def fingerprint(self, start: date) -> str:
        """What the historical runs of a calibration for ``start`` depend on. The JSON keeps
        the names and units of the settings' ``sim`` section (without the fixed share and
        the planner's fix interval) so models cached before this type existed still match."""
        sim = {
            "patience_s": self.run.patience_s,
            "match_radius_m": self.run.match_radius_m,
            "tick_s": self.run.tick_s,
            "demand_boost": self.run.demand_boost,
            "traffic_speed": self.run.traffic_speed,
            "calibration_days": self.days,
            "dispatch_grid": list(self.grid),
            "return_limit_min": self.run.return_limit_s / 60,
        }
        blob = json.dumps([VERSION, start.isoformat(), sim, self.run.seed], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def cache_path(self, start: date) -> Path:
        return self.cache_dir / f"{start.isoformat()}.json"


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


def calibration_days(con: duckdb.DuckDBPyConnection, config: CalibrationConfig,
                     start: date) -> list[date]:  # fmt: skip
    """Up to ``config.days`` days right before ``start``, leaving at least one earlier full
    day to learn the policies from."""
    tz = config.run.tz
    origin, _ = data_period(con, tz, config.slot_minutes)
    first_full = origin.astimezone(tz).date() + timedelta(days=1)
    n = config.days
    return [start - timedelta(days=n - i) for i in range(n)
            if start - timedelta(days=n - i) > first_full]  # fmt: skip


def calibrate(con: duckdb.DuckDBPyConnection, config: CalibrationConfig,
              start: date) -> dict[str, Any]:  # fmt: skip
    """Run the historical policy on the calibration days with every share of the grid, fit
    the booking model, and record how its shares do on those days."""
    days = calibration_days(con, config, start)
    if not days:
        log.warning("no day before %s to calibrate on; booking share 0", start)
        return {"model": BookingModel.fixed(0.0).to_json(), "days": [], "rows": []}
    run_config, tz = config.run, config.run.tz
    base = runs.prepare(con, run_config, days[0])
    first = local_midnight(start, tz)
    # per day: drivers' habits from every day before the period but that one
    periods: list[HistoricalBehaviour] = []
    for day in days:
        origin = local_midnight(day, tz)
        habits = learn_historical(con, base.network, first, tz,
                                  exclude=(origin, origin + timedelta(days=1)))  # fmt: skip
        periods.append(habits)
    worlds = [runs.day_world(con, run_config, base, day, i) for i, day in enumerate(days)]
    pressures = [demand_pressure(w) for w in worlds]
    reals = []
    for day in days:
        origin = local_midnight(day, tz)
        reals.append(runs.real_kpis(con, base.graph, origin, origin + timedelta(days=1), tz))
    rows: list[dict[str, Any]] = []

    def run(day: date, world: Any, real: dict[str, Any], share: Any) -> dict[str, Any]:
        log.info("calibrating on %s with booking share %s", day, share)
        habits = periods[days.index(day)]
        kpis = runs.run_seed(world, [_on_day(habits, tz)], run_config, day, 0, 1.0,
                             share).kpis  # fmt: skip
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

    points: list[tuple[int, float, float, float, float]] = []  # block, x, share, bias, served
    for day, world, real, pressure in zip(days, worlds, reals, pressures, strict=True):
        for share in config.grid:
            row = run(day, world, real, share)
            served = {int(b): v for b, v in row["served_blocks"].items()}
            for b, e in block_bias(row["sim_blocks"], real).items():
                points.append((b, float(pressure[b]), share, e, served.get(b, np.nan)))
    cols = [np.array(c) for c in zip(*points, strict=True)]
    ok = ~np.isnan(cols[4])
    model = fit_booking_model(cols[0][ok].astype(np.int64), cols[1][ok], cols[2][ok],
                              cols[3][ok], cols[4][ok], MIN_SERVED + SERVED_MARGIN)  # fmt: skip
    checks = [run(d, w, r, model.for_day(w))["terms"]
              for d, w, r in zip(days, worlds, reals, strict=True)]  # fmt: skip
    return {"model": model.to_json(), "days": [d.isoformat() for d in days],
            "pressure": [p.tolist() for p in pressures], "chosen_terms": checks,
            "rows": rows}  # fmt: skip


def _on_day(habits: HistoricalBehaviour, tz: ZoneInfo) -> runs.PolicyFactory:
    def make(origin: datetime, seed: int) -> Policy:
        return habits.on_day(origin, tz)

    return make


def resolve_booking(
    con: duckdb.DuckDBPyConnection, config: CalibrationConfig, start: date
) -> BookingModel:
    """The configured fixed booking share, or the model calibrated on the days before
    ``start``."""
    if config.fixed_share is not None:
        return BookingModel.fixed(config.fixed_share)
    return calibrated_booking(con, config, start)


def calibrated_booking(
    con: duckdb.DuckDBPyConnection, config: CalibrationConfig, start: date
) -> BookingModel:
    """The booking model for a period starting at ``start``, calibrated once and cached."""
    cached = _cached(config, start)
    if cached is not None:
        return cached
    result = {"fingerprint": config.fingerprint(start), **calibrate(con, config, start)}
    path = config.cache_path(start)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, default=float))
    return BookingModel.from_json(result["model"])


def _cached(config: CalibrationConfig, start: date) -> BookingModel | None:
    """The model stored for ``start`` if it was calibrated with the current configuration."""
    path = config.cache_path(start)
    if not path.exists():
        return None
    cached = json.loads(path.read_text())
    if cached.get("fingerprint") != config.fingerprint(start):
        return None
    return BookingModel.from_json(cached["model"])


def cached_booking(config: CalibrationConfig, day: date) -> BookingModel | None:
    """The latest booking model already calibrated for a period starting on or before
    ``day`` (the service's replay must not spend minutes calibrating), or the configured
    fixed share."""
    if config.fixed_share is not None:
        return BookingModel.fixed(config.fixed_share)
    folder = config.cache_dir
    for path in sorted(folder.glob("*.json"), reverse=True) if folder.exists() else []:
        try:
            start = date.fromisoformat(path.stem)
        except ValueError:
            continue
        model = _cached(config, start) if start <= day else None
        if model is not None:
            return model
    return None
