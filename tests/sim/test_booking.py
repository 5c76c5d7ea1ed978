"""Demand pressure and the booking-share model, against values worked out by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from taxinav.sim import Presence
from taxinav.sim.booking import MIN_PRESSURE, BookingModel, demand_pressure, fit_booking_model
from tests.sim.tiny import requests, ring, world

H = 3600.0


def _two_taxis() -> Presence:
    # Taxi 0 present 0–6 h, taxi 1 present 3–10 h (and once more 23–25 h, cut at the horizon).
    return Presence(
        vehicle=np.array([0, 1, 1]), enter_t=np.array([0.0, 3 * H, 23 * H]),
        leave_t=np.array([6 * H, 10 * H, 25 * H]), segment=np.zeros(3, dtype=np.int64),
        busy_until=np.full(3, np.nan), free_segment=np.full(3, -1),
    )  # fmt: skip


def test_pressure_is_requests_per_taxi_hour_of_each_block() -> None:
    # Requests at 1 h, 2 h, 5 h, 9 h, 9.5 h and 23.5 h.
    req = requests([(t * H, 0, 1, 60.0, 5.0) for t in (1, 2, 5, 9, 9.5, 23.5)])
    got = demand_pressure(world(ring(), req, _two_taxis(), horizon_s=24 * H))
    # Block 0 (0–4 h): taxi-hours 4 + 1 = 5, requests 2 → 0.4; block 1 (4–8 h): 2 + 4 = 6,
    # 1 request → 1/6; block 2 (8–12 h): 2 h of taxi 1, 2 requests → 1; blocks 3–4: nobody
    # present → the floor; block 5 (20–24 h): 1 taxi-hour (23–24 h), 1 request → 1.
    assert got.tolist() == pytest.approx([0.4, 1 / 6, 1.0, MIN_PRESSURE, MIN_PRESSURE, 1.0])


def test_pressure_blocks_follow_the_local_hour_of_the_origin() -> None:
    req = requests([(0.5 * H, 0, 1, 60.0, 5.0)])
    at_22 = datetime(2008, 5, 27, 22, tzinfo=UTC)
    got = demand_pressure(world(ring(), req, _two_taxis(), horizon_s=24 * H, origin=at_22))
    # t = 0 is 22 h local. Block 5 (20–24 h local) is simulated hours 0–2 and 22–24: taxi 0's
    # first two hours and taxi 1's hour 23–24 → 3 taxi-hours, one request (22:30) → 1/3.
    assert got[5] == pytest.approx(1 / 3)
    assert got[0] == pytest.approx(MIN_PRESSURE)  # 7 taxi-hours (00–04 h local), no request


def _plane(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    return 0.2 + 0.1 * x - (0.5 + 0.2 * x) * s


def test_fit_recovers_a_known_bias_plane_and_chooses_where_it_crosses_zero() -> None:
    # Block 1 only; pressures e^-1, e^0, e^1 (so x = log pressure = -1, 0, 1, centred at 0).
    x = np.repeat([-1.0, 0.0, 1.0], 3)
    s = np.tile([0.0, 0.375, 0.75], 3)
    model = fit_booking_model(np.ones(9, dtype=np.int64), np.exp(x), s, _plane(x, s))
    assert model.coef[1] == pytest.approx((0.2, 0.1, -0.5, -0.2))
    assert model.x_mean[1] == pytest.approx(0.0)
    assert (model.x_lo[1], model.x_hi[1]) == pytest.approx((-1.0, 1.0))
    assert model.max_share == 0.75
    # x = 0: 0.2 − 0.5 s = 0 at s = 0.4. x = 1: 0.3 − 0.7 s → 3/7. x = −1: 0.1 − 0.3 s → 1/3.
    pressure = np.ones(6)
    assert model.shares(pressure)[1] == pytest.approx(0.4)
    pressure[1] = math.e
    assert model.shares(pressure)[1] == pytest.approx(3 / 7, abs=1e-4)
    pressure[1] = math.e**5  # busier than any calibration day: treated as the busiest seen
    assert model.shares(pressure)[1] == pytest.approx(3 / 7, abs=1e-4)
    pressure[1] = math.exp(-1)
    assert model.shares(pressure)[1] == pytest.approx(1 / 3, abs=1e-4)
    # Blocks without calibration points take share 0.
    assert model.shares(pressure)[0] == 0.0


def test_shares_stay_within_the_calibrated_range() -> None:
    s = np.array([0.0, 0.75, 0.0, 0.75])
    block = np.array([2, 2, 3, 3])
    # Block 2 is too long at every share (bias 0.5 − 0.2 s): the largest share. Block 3 is
    # too short at every share (−0.1 − 0.3 s): no bookings.
    bias = np.where(block == 2, 0.5 - 0.2 * s, -0.1 - 0.3 * s)
    model = fit_booking_model(block, np.ones(4), s, bias)
    got = model.shares(np.ones(6))
    assert got[2] == 0.75
    assert got[3] == 0.0


def test_fixed_share_and_json_round_trip() -> None:
    assert BookingModel.fixed(0.3).shares(np.full(6, 2.0)) == (0.3,) * 6
    x = np.repeat([-1.0, 1.0], 2)
    s = np.tile([0.0, 0.75], 2)
    model = fit_booking_model(np.zeros(4, dtype=np.int64), np.exp(x), s, _plane(x, s))
    assert BookingModel.from_json(model.to_json()) == model


def _served_model(min_served: float) -> BookingModel:
    # Blocks 0 and 1, both unbiased without bookings (bias −0.5 s); bookings serve block 1
    # twice as fast (served 0.7 + 0.4 s against 0.7 + 0.2 s). Other blocks: no data.
    s = np.tile([0.0, 0.375, 0.75], 2)
    block = np.repeat([0, 1], 3)
    served = np.where(block == 0, 0.7 + 0.2 * s, 0.7 + 0.4 * s)
    return fit_booking_model(block, np.ones(6), s, -0.5 * s, served, min_served)


def test_shares_rise_where_serving_more_costs_the_least_bias() -> None:
    requests = np.array([100.0, 100.0, 0, 0, 0, 0])
    # Predicted served at no bookings: 0.7. Reaching 0.8 with block 1 alone needs
    # (0.7 + 0.7 + 0.4 s) / 2 ≥ 0.8 → s ≥ 0.5, taken in steps of 0.75 / 40.
    got = _served_model(0.8).shares(np.ones(6), requests)
    assert got[0] == 0.0
    assert 0.5 <= got[1] <= 0.5 + 0.75 / 40
    # Without the day's requests, or with a target already met, the shares stay unbiased.
    assert _served_model(0.8).shares(np.ones(6))[:2] == (0.0, 0.0)
    assert _served_model(0.6).shares(np.ones(6), requests)[:2] == (0.0, 0.0)


def test_an_unreachable_served_target_stops_at_the_largest_shares() -> None:
    requests = np.array([100.0, 100.0, 0, 0, 0, 0])
    assert _served_model(0.99).shares(np.ones(6), requests)[:2] == (0.75, 0.75)
    model = _served_model(0.8)
    assert BookingModel.from_json(model.to_json()) == model
