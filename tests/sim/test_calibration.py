"""The calibration criteria, scaled so that 1.0 is the tolerance, by hand."""

from __future__ import annotations

import math

import pytest

from taxinav.sim.calibration import block_bias, calibration_error

REAL = {
    "vacant_median_min": 5.0,
    "vacant_mean_min": 8.0,
    "occupancy": 0.5,
    "vacant_median_by_block": {"0": 4.0, "5": 2.0},  # JSON keys are strings
}


def test_each_criterion_over_its_tolerance() -> None:
    sim = {"vacant_median_min": 4.0, "vacant_mean_min": 8.8, "occupancy": 0.45}
    got = calibration_error(sim, {0: 5.0, 5: 1.5, 3: 9.0}, REAL, served=0.9)
    # median −20 % → 1.0; mean +10 % → 0.5; occupancy −10 % → 0.5; blocks: +25 % → 1.0 and
    # −25 % → 1.0 (block 3 has no real value); served 90 % → 0.1 / 0.2 = 0.5.
    assert got["vacant_median_min"] == pytest.approx(1.0)
    assert got["vacant_mean_min"] == pytest.approx(0.5)
    assert got["occupancy"] == pytest.approx(0.5)
    assert got["worst_block"] == pytest.approx(1.0)
    assert got["served"] == pytest.approx(0.5)
    assert got["error"] == pytest.approx(1.0)


def test_serving_too_few_dominates() -> None:
    sim = {"vacant_median_min": 5.0, "vacant_mean_min": 8.0, "occupancy": 0.5}
    got = calibration_error(sim, {0: 4.0}, REAL, served=0.7)
    assert got["error"] == pytest.approx(1.5)  # (1 − 0.7) / 0.2


def test_a_block_scores_the_log_ratio_of_its_median() -> None:
    # Block 0: 5 vs 4 → log 1.25; block 5: 1 vs 2 → log 0.5; block 3 has no real spell and
    # block 5 of the second call no simulated one: neither is scored.
    got = block_bias({0: 5.0, 5: 1.0, 3: 7.0}, REAL)
    assert got == pytest.approx({0: math.log(1.25), 5: math.log(0.5)})
    assert block_bias({0: 4.0}, REAL) == {0: 0.0}
