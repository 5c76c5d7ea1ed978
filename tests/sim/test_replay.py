"""Presence episodes: when a simulated twin stays for its real cab's return."""

from __future__ import annotations

import numpy as np

from taxinav.sim.replay import _stay_for_return


def test_twin_stays_only_after_an_occupied_exit_followed_by_a_prompt_return() -> None:
    vehicle = np.array([0, 0, 0, 1, 1])
    enter = np.array([0.0, 1000.0, 9000.0, 0.0, 500.0])
    leave = np.array([400.0, 2000.0, 9500.0, 100.0, 800.0])
    left_occupied = np.array([True, True, False, False, True])
    got = _stay_for_return(vehicle, enter, leave, left_occupied, limit_s=3600.0)
    # 0: occupied exit, back 600 s later → stays until 1000. 1: occupied exit, but back only
    # after 7000 s > limit → unchanged. 2: last of the vehicle. 3: left vacant → unchanged.
    # 4: occupied exit but no later episode → unchanged.
    assert got.tolist() == [1000.0, 2000.0, 9500.0, 100.0, 800.0]
