"""Forecast error metrics. Each is tested against hand-computed values."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _pair(y: ArrayLike, p: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return a, b


def rmse(y: ArrayLike, p: ArrayLike) -> float:
    a, b = _pair(y, p)
    return float(np.sqrt(np.mean((a - b) ** 2))) if a.size else float("nan")


def mae(y: ArrayLike, p: ArrayLike) -> float:
    a, b = _pair(y, p)
    return float(np.mean(np.abs(a - b))) if a.size else float("nan")


def wape(y: ArrayLike, p: ArrayLike) -> float:
    """Sum of absolute errors over the sum of actuals."""
    a, b = _pair(y, p)
    total = float(np.sum(a))
    return float(np.sum(np.abs(a - b)) / total) if total > 0 else float("nan")


def masked_mape(y: ArrayLike, p: ArrayLike, threshold: float = 10.0) -> float:
    """Mean absolute percentage error over actuals strictly above ``threshold`` only."""
    a, b = _pair(y, p)
    keep = a > threshold
    return float(np.mean(np.abs(a[keep] - b[keep]) / a[keep])) if keep.any() else float("nan")


def calibration(y: ArrayLike, p: ArrayLike) -> float:
    """Predicted total over actual total (1.0 = unbiased in aggregate)."""
    a, b = _pair(y, p)
    total = float(np.sum(a))
    return float(np.sum(b) / total) if total > 0 else float("nan")


def noise_floor(y: ArrayLike) -> float:
    """RMSE of an oracle that knew each Poisson rate exactly: sqrt(mean count)."""
    a = np.asarray(y, dtype=np.float64)
    return float(np.sqrt(np.mean(a))) if a.size else float("nan")


def top_capture(y: ArrayLike, p: ArrayLike, groups: ArrayLike, share: float = 0.1) -> float:
    """Share of actual pickups inside each group's (slot's) top ``share`` of units by forecast.

    In a group of n units the top ``ceil(share * n)`` are taken; ties go to the earlier unit.
    """
    a, b = _pair(y, p)
    g = np.asarray(groups)
    total = float(a.sum())
    if total <= 0:
        return float("nan")
    order = np.lexsort((np.arange(a.size), -b, g))
    g_sorted = g[order]
    starts = np.r_[0, np.flatnonzero(g_sorted[1:] != g_sorted[:-1]) + 1]
    sizes = np.diff(np.r_[starts, a.size])
    rank = np.arange(a.size) - np.repeat(starts, sizes)
    top = rank < np.repeat(np.ceil(share * sizes), sizes)
    return float(a[order][top].sum() / total)


def summary(
    y: ArrayLike, p: ArrayLike, groups: ArrayLike, mape_threshold: float = 10.0
) -> dict[str, float]:
    return {
        "rmse": rmse(y, p),
        "mae": mae(y, p),
        "wape": wape(y, p),
        "masked_mape": masked_mape(y, p, mape_threshold),
        "calibration": calibration(y, p),
        "top10_capture": top_capture(y, p, groups),
    }
