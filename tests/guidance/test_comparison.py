"""Paired comparisons: per-run relative differences, bootstrap intervals and targets, with
values worked out by hand."""

from __future__ import annotations

import math
from datetime import date

import pytest

from taxinav.guidance.comparison import RunKey, bootstrap_ci, compare, group_kpi


def test_bootstrap_of_identical_values_is_that_value() -> None:
    assert bootstrap_ci([2.5] * 5, seed=1) == (2.5, 2.5)
    assert bootstrap_ci([-7.0], seed=3) == (-7.0, -7.0)
    lo, hi = bootstrap_ci([0.1] * 7, seed=0)
    assert lo == pytest.approx(0.1, abs=1e-15) and hi == pytest.approx(0.1, abs=1e-15)


def test_bootstrap_interval_holds_the_mean_within_the_range_and_is_seeded() -> None:
    values = [1.0, 2.0, 3.0, 10.0, -4.0, 6.0]
    lo, hi = bootstrap_ci(values, seed=7)
    assert -4.0 <= lo < 3.0 < hi <= 10.0  # mean 3
    assert bootstrap_ci(values, seed=7) == (lo, hi)
    assert bootstrap_ci(values, seed=8) != (lo, hi)
    assert all(math.isnan(x) for x in bootstrap_ci([], seed=0))


def test_bootstrap_of_two_values_reaches_both_when_each_has_over_2_5_percent() -> None:
    # Means of two draws of {−40, 10}: −40 or 10 each with probability 1/4, so the
    # 2.5 % and 97.5 % quantiles of 2000 resampled means are the two values themselves.
    assert bootstrap_ci([-40.0, 10.0], seed=0) == (-40.0, 10.0)


def test_per_run_value_is_the_relative_difference_and_bad_pairs_are_dropped() -> None:
    c = compare(
        "guided vs own", "median",
        [
            ("r1", 90.0, 100.0),
            ("r2", 80.0, 100.0),
            ("r3", 1.0, 0.0),  # b = 0
            ("r4", float("nan"), 100.0),
            ("r5", 50.0, float("inf")),
            ("r6", float("-inf"), 3.0),
        ],
        seed=0,
    )  # fmt: skip
    assert c.values == pytest.approx([-10.0, -20.0])
    assert c.runs == ["r1", "r2"]
    assert c.mean == pytest.approx(-15.0)
    assert -20.0 <= c.lo <= c.mean <= c.hi <= -10.0
    assert c.target is None and c.met is None
    assert c.name == "guided vs own" and c.kpi == "median"
    assert c.to_json()["values"] == c.values


def test_negative_baseline() -> None:
    c = compare("x", "mean", [("r", -3.0, -2.0)], seed=0)
    assert c.values == pytest.approx([50.0])  # 100 · (−3 − (−2)) / (−2)


PAIRS_DOWN = [("a", 90.0, 100.0), ("b", 80.0, 100.0)]  # −10, −20: mean −15
PAIRS_UP = [("a", 110.0, 100.0), ("b", 105.0, 100.0)]  # +10, +5: mean 7.5


@pytest.mark.parametrize(
    ("pairs", "target", "met"),
    [
        (PAIRS_DOWN, "<= -15", True),
        (PAIRS_DOWN, "<= -10", True),
        (PAIRS_DOWN, "<= -16", False),
        (PAIRS_DOWN, ">= 8", False),
        (PAIRS_DOWN, "all < 0", True),
        (PAIRS_DOWN, "all < -10", False),  # −10 is not below −10
        (PAIRS_DOWN, "all >= -20", True),
        (PAIRS_DOWN, "all >= -15", False),
        (PAIRS_UP, ">= 7.5", True),
        (PAIRS_UP, ">= 7", True),
        (PAIRS_UP, ">= 8", False),
        (PAIRS_UP, "<= -1", False),
        (PAIRS_UP, "all >= 5", True),
        (PAIRS_UP, "all >= 6", False),
        (PAIRS_UP, "all < 0", False),
        # the mean meets the target but the interval reaches past zero
        ([("a", 60.0, 100.0), ("b", 110.0, 100.0)], "<= -15", False),  # −40, +10
        ([("a", 140.0, 100.0), ("b", 90.0, 100.0)], ">= 15", False),  # +40, −10
        # the interval excludes zero but the mean misses
        ([("a", 99.0, 100.0), ("b", 98.0, 100.0)], "<= -15", False),
        (PAIRS_DOWN, None, None),
        ([("a", 1.0, 0.0)], "<= -15", None),  # no usable run
    ],
)
def test_targets(pairs: list[tuple[str, float, float]], target: str | None,
                 met: bool | None) -> None:  # fmt: skip
    assert compare("c", "median", pairs, seed=1, target=target).met is met


def test_no_usable_pair_gives_nan() -> None:
    c = compare("c", "median", [("a", 1.0, 0.0)], seed=0, target="all >= 2")
    assert c.values == [] and c.runs == []
    assert math.isnan(c.mean) and math.isnan(c.lo) and math.isnan(c.hi)


def test_compare_is_deterministic_for_a_seed() -> None:
    pairs = [(f"r{i}", 100.0 + i * i, 100.0 + 3 * i) for i in range(9)]
    assert compare("c", "mean", pairs, seed=4) == compare("c", "mean", pairs, seed=4)


def _kpis() -> dict[str, object]:
    group = {
        "vacant_before_pickup": {"median_min": 7.5, "mean_min": 9.25},
        "pickups_per_vacant_h": 1.75,
        "revenue_per_present_h": 31,
    }
    other = {
        "vacant_before_pickup": {"median_min": 6.0, "mean_min": 8.0},
        "pickups_per_vacant_h": 2.0,
        "revenue_per_present_h": 40.5,
    }
    return {"groups": {0: group, "1": other}}


@pytest.mark.parametrize(
    ("group", "name", "value"),
    [
        (0, "median", 7.5),
        (0, "mean", 9.25),
        (0, "pickups_per_vacant_h", 1.75),
        (0, "revenue_per_shift_h", 31.0),
        (1, "median", 6.0),  # a string key, as after a JSON round trip
        (1, "mean", 8.0),
        (1, "pickups_per_vacant_h", 2.0),
        (1, "revenue_per_shift_h", 40.5),
    ],
)
def test_group_kpi(group: int, name: str, value: float) -> None:
    got = group_kpi(_kpis(), group, name)
    assert got == value and isinstance(got, float)


def test_group_kpi_of_a_missing_group_or_kpi_fails() -> None:
    with pytest.raises(KeyError):
        group_kpi(_kpis(), 2, "median")
    with pytest.raises(KeyError):
        group_kpi(_kpis(), 0, "served")


def test_run_key_label() -> None:
    key = RunKey("main", "guided", date(2008, 5, 22), 3, 300.0, 500.0)
    assert key.label() == "2008-05-22/seed3"
    assert (key.patience_s, key.radius_m) == (300.0, 500.0)
