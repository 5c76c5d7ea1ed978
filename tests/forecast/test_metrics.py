"""Metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest

from taxinav.forecast import metrics

Y = [0.0, 2.0, 4.0, 12.0, 20.0]
P = [1.0, 2.0, 1.0, 15.0, 10.0]
# errors: -1, 0, 3, -3, 10 -> squares 1, 0, 9, 9, 100 (sum 119); abs 1, 0, 3, 3, 10 (sum 17)


def test_rmse() -> None:
    assert metrics.rmse(Y, P) == pytest.approx(math.sqrt(119 / 5))


def test_mae() -> None:
    assert metrics.mae(Y, P) == pytest.approx(17 / 5)


def test_wape() -> None:
    assert metrics.wape(Y, P) == pytest.approx(17 / 38)


def test_masked_mape_uses_only_actuals_above_threshold() -> None:
    # above 10: 12 (|12-15|/12 = 0.25) and 20 (|20-10|/20 = 0.5)
    assert metrics.masked_mape(Y, P, threshold=10) == pytest.approx((0.25 + 0.5) / 2)
    assert math.isnan(metrics.masked_mape([1.0, 2.0], [1.0, 1.0], threshold=10))


def test_calibration_and_noise_floor() -> None:
    assert metrics.calibration(Y, P) == pytest.approx(29 / 38)
    assert metrics.noise_floor([0.0, 1.0, 3.0, 0.0]) == pytest.approx(1.0)


def test_top_capture_per_slot() -> None:
    # slot A: 10 units, top 1 by forecast is u3 (y=5) of 10 pickups in A.
    # slot B: 3 units -> ceil(0.3) = 1 unit: forecast ties, the earlier row (y=0) wins.
    y = [1, 1, 1, 5, 0, 0, 0, 1, 1, 0] + [0, 4, 2]
    p = [0.1] * 3 + [0.9] + [0.2] * 6 + [0.5, 0.5, 0.1]
    g = ["A"] * 10 + ["B"] * 3
    assert metrics.top_capture(y, p, g) == pytest.approx(5 / 16)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.rmse([1.0], [1.0, 2.0])
