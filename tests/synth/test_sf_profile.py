"""The hour-of-week profile read from cabspotting files, on tiny files made here."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from taxinav.synth import (
    cached_profile,
    cached_spatial,
    profile_from_cabspotting,
    spatial_from_cabspotting,
)

LA = ZoneInfo("America/Los_Angeles")


def _cab(folder: Path, name: str, pickups: list[datetime]) -> None:
    """A cab vacant a minute before each pickup, occupied at it; newest line first."""
    lines = []
    for moment in pickups:
        t = int(moment.timestamp())
        lines += [f"37.78 -122.41 0 {t - 60}", f"37.781 -122.41 1 {t}"]
    folder.mkdir(exist_ok=True)
    (folder / f"new_{name}.txt").write_text("\n".join(reversed(lines)) + "\n")


def test_pickups_are_counted_in_their_local_hour_of_the_week(tmp_path: Path) -> None:
    cabs = tmp_path / "cabs"

    def at(day: int, hour: int, minute: int) -> datetime:
        return datetime(2008, 5, day, hour, minute, tzinfo=LA)

    # Mondays 2008-05-19 and 05-26: two pickups at 08:xx on each; Tuesday 05-20: one at 20:05
    _cab(cabs, "a", [at(19, 8, 10), at(26, 8, 20)])
    _cab(cabs, "b", [at(19, 8, 40), at(26, 8, 50), at(20, 20, 5)])
    profile, files = profile_from_cabspotting(cabs)
    assert files == 2
    assert profile.shape == (168,) and profile.mean() == pytest.approx(1.0)
    monday_8, tuesday_20 = 8, 24 + 20
    assert int(np.argmax(profile)) == monday_8
    # two Mondays at 08 hold 4 pickups, one Tuesday at 20 holds 1: a rate of 2 versus 1
    assert profile[monday_8] == pytest.approx(2 * profile[tuesday_20])
    assert profile[monday_8 + 1] == pytest.approx(profile[monday_8] / 2)  # the smoothing
    assert profile[100] == 0.0


def test_the_profile_is_cached_and_read_back(tmp_path: Path) -> None:
    cabs = tmp_path / "cabs"
    _cab(cabs, "a", [datetime(2008, 5, 19, 8, 10, tzinfo=LA)])
    cache = tmp_path / "home" / "profile.json"
    first = cached_profile(cabs, cache)
    (cabs / "new_a.txt").unlink()  # the cache is read, not the files
    assert np.array_equal(cached_profile(cabs, cache), first)
    assert json.loads(cache.read_text())["files"] == 1


def _cab_at(folder: Path, name: str, places: list[tuple[float, float]]) -> None:
    """A cab picking up at each (lat, lon) in turn, an hour apart."""
    lines, t = [], int(datetime(2008, 5, 19, 8, 0, tzinfo=LA).timestamp())
    for lat, lon in places:
        lines += [f"{lat} {lon} 0 {t - 60}", f"{lat} {lon} 1 {t}"]
        t += 3600
    folder.mkdir(exist_ok=True)
    (folder / f"new_{name}.txt").write_text("\n".join(reversed(lines)) + "\n")


def test_the_density_map_is_densest_where_the_pickups_are(tmp_path: Path) -> None:
    cabs = tmp_path / "cabs"
    # 30 pickups downtown; 101 spread evenly along a diagonal from the south-west corner.
    _cab_at(cabs, "a", [(37.78, -122.41)] * 30)
    _cab_at(cabs, "b", [(37.70 + 0.001 * k, -122.50 + 0.0012 * k) for k in range(101)])
    grid, files = spatial_from_cabspotting(cabs, cells=10)
    assert files == 2 and grid.shape == (10, 10)
    assert grid.mean() == pytest.approx(1.0)
    # Downtown is 80 % of the way north and 75 % of the way east of the diagonal's start.
    row, col = np.unravel_index(int(np.argmax(grid)), grid.shape)
    assert (abs(int(row) - 8) <= 1, abs(int(col) - 7) <= 1) == (True, True)
    assert grid[9, 0] == 0.0  # the north-west corner: no pickup, nor one beside it
    cache = tmp_path / "density.json"
    first = cached_spatial(cabs, cache)
    (cabs / "new_a.txt").unlink()  # the cache is read, not the files
    assert np.array_equal(cached_spatial(cabs, cache), first)
