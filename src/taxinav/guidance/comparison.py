"""Paired comparisons of an evaluation's runs, with 95 % bootstrap intervals over day × seed.

A comparison's value per run is a relative difference in per cent, (a − b) / b, of two
groups of the same run or of the same group in two arms of the same day and seed; the
interval is the 2.5–97.5 % range of the mean over runs resampled with replacement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np

KPIS = {
    "median": ("vacant_before_pickup", "median_min"),
    "mean": ("vacant_before_pickup", "mean_min"),
    "pickups_per_vacant_h": ("pickups_per_vacant_h",),
    "revenue_per_shift_h": ("revenue_per_present_h",),
}


def group_kpi(kpis: dict[str, Any], group: int, name: str) -> float:
    """A group's KPI from a run's summary (group keys are ints, or strings after JSON)."""
    groups = kpis["groups"]
    value: Any = groups[group] if group in groups else groups[str(group)]
    for key in KPIS[name]:
        value = value[key]
    return float(value)


def bootstrap_ci(values: list[float], seed: int, draws: int = 2000) -> tuple[float, float]:
    """95 % interval of the mean of ``values`` by resampling them with replacement."""
    a = np.asarray(values, dtype=np.float64)
    if a.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = a[rng.integers(0, a.size, size=(draws, a.size))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


@dataclass(frozen=True)
class Comparison:
    """``name``: what is compared; values in per cent, one per paired run."""

    name: str
    kpi: str
    values: list[float]
    runs: list[str]
    mean: float
    lo: float
    hi: float
    target: str | None  # e.g. "<= -15", ">= 8", "all >= 2", "all > 0", "all < 0"
    met: bool | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _met(target: str | None, values: list[float], mean: float, lo: float, hi: float
         ) -> bool | None:  # fmt: skip
    """A target holds on the mean with the interval excluding zero, or on every run."""
    if target is None or not values:
        return None
    every, (op, num) = target.startswith("all "), target.removeprefix("all ").split()
    bound = float(num)
    if every:
        checks = {">=": lambda v: v >= bound, ">": lambda v: v > bound, "<": lambda v: v < bound}
        return all(checks[op](v) for v in values)
    if op == "<=":
        return mean <= bound and hi < 0
    return mean >= bound and lo > 0


def compare(name: str, kpi: str, pairs: list[tuple[str, float, float]], seed: int,
            target: str | None = None) -> Comparison:  # fmt: skip
    """``pairs``: (run, a, b) → the relative difference of a against b, in per cent."""
    ok = [(r, a, b) for r, a, b in pairs if np.isfinite(a) and np.isfinite(b) and b != 0]
    values = [100.0 * (a - b) / b for _, a, b in ok]
    mean = float(np.mean(values)) if values else float("nan")
    lo, hi = bootstrap_ci(values, seed)
    return Comparison(name, kpi, values, [r for r, _, _ in ok], mean, lo, hi, target,
                      _met(target, values, mean, lo, hi))  # fmt: skip


@dataclass(frozen=True)
class RunKey:
    part: str
    arm: str
    day: date
    seed: int
    patience_s: float
    radius_m: float

    def label(self) -> str:
        return f"{self.day.isoformat()}/seed{self.seed}"
