"""The hour-of-week profile of the real San Francisco pickups, read from the cabspotting files.

A pickup is a switch of a cab's occupancy from 0 to 1 between two consecutive valid fixes at most
:data:`MAX_GAP_S` apart (the files are read and validated by the project's cabspotting reader).
Pickups are counted per local hour of the week (``weekday * 24 + hour``, Monday 0) and divided by
the number of times that hour occurs in the span of the data, so a weekday the data holds three
times weighs no more than one it holds twice; the result is smoothed with a circular
``(1, 2, 1) / 4`` kernel over neighbouring hours and scaled to mean 1.

The spatial map (:func:`spatial_from_cabspotting`) counts the same pickups on a square grid over
the area where they happen, to be stretched over a synthetic city.

Reading every file takes about half a minute, so each profile is cached as JSON (168 values and
the file count) at a path the caller chooses, and read from there when it exists.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow.compute as pc
from numpy.typing import NDArray

from taxinav.ingest import Rules, list_cabspotting_files, read_cabspotting_file

FloatArray = NDArray[np.float64]
MAX_GAP_S = 120
SF_TIMEZONE = ZoneInfo("America/Los_Angeles")  # the cabspotting cabs' city
SPATIAL_CELLS = 48  # cells per side of the pickup density map (~300 m over San Francisco)


def _pickups(path: Path, rules: Rules) -> tuple[NDArray[np.int64], FloatArray, FloatArray]:
    """Unix seconds, latitudes and longitudes of the pickups of one cab's file."""
    fixes = read_cabspotting_file(path, rules).fixes
    ts = pc.cast(fixes.column("ts"), "int64").to_numpy() // 1_000_000
    occupied = fixes.column("occupied").to_numpy(zero_copy_only=False).astype(np.int8)
    lat = fixes.column("lat").to_numpy(zero_copy_only=False).astype(np.float64)
    lon = fixes.column("lon").to_numpy(zero_copy_only=False).astype(np.float64)
    order = np.argsort(ts, kind="stable")
    ts, occupied, lat, lon = ts[order], occupied[order], lat[order], lon[order]
    switch = (np.diff(occupied) == 1) & (np.diff(ts) <= MAX_GAP_S)
    return np.asarray(ts[1:][switch], dtype=np.int64), lat[1:][switch], lon[1:][switch]


def _hour_of_week(hours: NDArray[np.int64], tz: ZoneInfo) -> NDArray[np.int64]:
    """Local hour of the week of each unix hour (``seconds // 3600``)."""
    unique, inverse = np.unique(hours, return_inverse=True)
    local = [datetime.fromtimestamp(int(h) * 3600, tz) for h in unique]
    how = np.array([d.weekday() * 24 + d.hour for d in local], dtype=np.int64)
    return how[inverse]


def profile_from_cabspotting(
    cab_dir: Path, tz: ZoneInfo = SF_TIMEZONE, progress: Callable[[str], None] | None = None
) -> tuple[FloatArray, int]:
    """The smoothed pickup rate of each hour of the week local to ``tz`` (mean 1) and the count
    of files read; ``progress`` is called after each file."""
    files = list_cabspotting_files(cab_dir)
    if not files:
        raise FileNotFoundError(f"no cabspotting files (new_<cab>.txt[.gz]) in {cab_dir}")
    rules = Rules.default()
    pickups = []
    for path in files:
        pickups.append(_pickups(path, rules)[0])
        if progress is not None:
            progress(path.name)
    seconds = np.concatenate(pickups)
    if seconds.size == 0:
        raise ValueError(f"the cabspotting files in {cab_dir} hold no pickup")
    hours = seconds // 3600
    counts = np.bincount(_hour_of_week(hours, tz), minlength=168).astype(np.float64)
    span = np.arange(int(hours.min()), int(hours.max()) + 1, dtype=np.int64)
    seen = np.bincount(_hour_of_week(span, tz), minlength=168).astype(np.float64)
    rate = counts / np.maximum(seen, 1.0)
    smooth = (np.roll(rate, 1) + 2 * rate + np.roll(rate, -1)) / 4
    return smooth / smooth.mean(), len(files)


def cached_profile(
    cab_dir: Path,
    cache: Path,
    tz: ZoneInfo = SF_TIMEZONE,
    progress: Callable[[str], None] | None = None,
) -> FloatArray:
    """:func:`profile_from_cabspotting`, read from ``cache`` when it exists, else written there."""
    if cache.is_file():
        values = json.loads(cache.read_text(encoding="utf-8"))["hour_of_week"]
        if len(values) != 168:
            raise ValueError(f"{cache} does not hold 168 hourly values; delete it to re-read")
        return np.asarray(values, dtype=np.float64)
    profile, files = profile_from_cabspotting(cab_dir, tz, progress)
    profile = np.round(profile, 4)  # what is cached is exactly what is used
    cache.parent.mkdir(parents=True, exist_ok=True)
    record = {"source": str(cab_dir), "files": files, "hour_of_week": profile.tolist()}
    cache.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return profile


def spatial_from_cabspotting(
    cab_dir: Path, cells: int = SPATIAL_CELLS, progress: Callable[[str], None] | None = None
) -> tuple[FloatArray, int]:
    """The pickup density of the real San Francisco cabs on a ``cells`` × ``cells`` grid (row
    0 south, column 0 west) over the middle 98 % of their pickups' latitudes and longitudes
    (the extremes are airport runs and GPS strays), smoothed with a ``(1, 2, 1) / 4`` kernel
    along each axis and scaled to mean 1; and the count of files read."""
    files = list_cabspotting_files(cab_dir)
    if not files:
        raise FileNotFoundError(f"no cabspotting files (new_<cab>.txt[.gz]) in {cab_dir}")
    rules = Rules.default()
    lats, lons = [], []
    for path in files:
        _, lat, lon = _pickups(path, rules)
        lats.append(lat)
        lons.append(lon)
        if progress is not None:
            progress(path.name)
    lat, lon = np.concatenate(lats), np.concatenate(lons)
    if lat.size == 0:
        raise ValueError(f"the cabspotting files in {cab_dir} hold no pickup")
    south, north = np.quantile(lat, [0.01, 0.99])
    west, east = np.quantile(lon, [0.01, 0.99])
    if north <= south or east <= west:  # one place only: a flat map
        return np.ones((cells, cells)), len(files)
    grid, _, _ = np.histogram2d(lat, lon, bins=cells, range=[[south, north], [west, east]])
    # Smoothed without wrapping around: the map's west edge is not next to its east edge.
    padded = np.pad(grid, 1)
    grid = (padded[:-2] + 2 * padded[1:-1] + padded[2:])[:, 1:-1] / 4
    padded = np.pad(grid, 1)
    grid = (padded[:, :-2] + 2 * padded[:, 1:-1] + padded[:, 2:])[1:-1] / 4
    return grid / grid.mean(), len(files)


def cached_spatial(
    cab_dir: Path, cache: Path, progress: Callable[[str], None] | None = None
) -> FloatArray:
    """:func:`spatial_from_cabspotting`, read from ``cache`` when it exists, else written
    there."""
    if cache.is_file():
        grid = np.asarray(json.loads(cache.read_text(encoding="utf-8"))["density"], np.float64)
        if grid.ndim != 2 or grid.shape[0] != grid.shape[1] or grid.shape[0] < 1:
            raise ValueError(f"{cache} does not hold a square density grid; delete it to re-read")
        return grid
    grid, files = spatial_from_cabspotting(cab_dir, progress=progress)
    grid = np.round(grid, 4)  # what is cached is exactly what is used
    cache.parent.mkdir(parents=True, exist_ok=True)
    record = {"source": str(cab_dir), "files": files, "density": grid.tolist()}
    cache.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return grid
