"""Telemetry of a synthetic taxi fleet driving the grid city, in the generic telemetry format.

The fleet is simulated in lock-step ticks of :data:`TICK_S` seconds, all taxis at once (numpy
arrays indexed by taxi), from local midnight of the first day to local midnight after the last:

- **Shifts**: a taxi is a day driver (55 %, shifts start 04:00–08:00 local) or a night driver
  (start 15:00–19:00), each shift 8–11 hours, with a day off one day in eight. Night shifts of the
  day before the first day are running at its midnight. A taxi starts a shift vacant on a random
  link; at the shift's end it goes off (no more fixes) once it has no passenger.
- **Pickups**: a vacant taxi on a link meets a passenger in a tick with the hazard
  ``PICKUP_RATE_PER_S × hour-of-week profile × intensity of the link`` (``demand.py``), so
  pickups fall where the demand field puts them.
- **Trips**: the destination is the busiest (by the field, at random in proportion) of four
  intersections at a distance drawn from a log-normal (median :data:`TRIP_MEDIAN_M`, or 0.6 of
  the half-width in a city too small for it) in random directions; the taxi drives along the
  streets, at every intersection choosing among the legal next links with weights
  ``exp(-(extra distance to the destination) / (block / 4))``, and drops the passenger off at the
  first intersection within 0.6 of a block of it (or when the trip has taken three times its
  straight-line distance at 5 m/s plus ten minutes).
- **Cruising**: a vacant taxi turns at random, each legal next link weighted by the square root
  of the intensity at its end (a random walk biased to busier areas), at 70 % of the occupied
  speed.
- **Speed**: the link's free-flow speed × the driver's own factor (0.85–1.1) × a congestion
  factor of the local hour (0.7 at the 08:30 and 18:00 peaks, 1 at night).
- **Fixes**: every taxi on shift reports one fix every 30–60 s (whole seconds, uniform), at its
  position at that second on its link, with Gaussian GPS noise of :data:`GPS_SIGMA_M` metres per
  axis; ``occupied`` is 1 while a passenger is on board.

Output: one CSV per local day, ``<YYYY-MM-DD>.csv``, header ``vehicle_id,ts,lat,lon,occupied``
(``ts`` in unix seconds, degrees to six decimals), rows sorted by vehicle and time; vehicles are
named ``synth00000`` …. Every random draw comes from one generator seeded with ``seed`` in a fixed
order, so the same city, fleet and seed write byte-identical files.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from numpy.typing import NDArray

from taxinav.calendar import local_midnight
from taxinav.synth.demand import DemandField, hour_of_week_profile
from taxinav.synth.network import City, to_lat_lon

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
Part = tuple[IntArray, IntArray, FloatArray, FloatArray, BoolArray]  # taxi, ts, lat, lon, occupied

TICK_S = 5
FIX_MIN_S, FIX_MAX_S = 30, 60
GPS_SIGMA_M = 4.0
PICKUP_RATE_PER_S = 1 / (9 * 60)  # a vacant taxi at mean intensity and profile: every 9 min
TRIP_MEDIAN_M = 2500.0
TRIP_SIGMA = 0.6  # of log(distance)
TRIP_CITY_SHARE = 0.6  # a small city's median trip: this share of its half-width
DESTINATION_CANDIDATES = 4
CRUISE_SPEED = 0.7
ARRIVE_BLOCKS = 0.6
DAY_DRIVERS = 0.55
DAY_OFF = 1 / 8
COLUMNS = ("vehicle_id", "ts", "lat", "lon", "occupied")


@dataclass(frozen=True)
class TelemetryReport:
    """What :func:`write_telemetry` wrote."""

    files: tuple[Path, ...]
    fixes: int
    pickups: int
    seconds: float

    @property
    def fixes_per_second(self) -> float:
        return self.fixes / self.seconds if self.seconds > 0 else 0.0


def congestion(hour: float) -> float:
    """Speed factor of a local hour of day: 0.7 at the morning and evening peaks, 1 at night."""
    peaks = math.exp(-0.5 * ((hour - 8.5) / 1.5) ** 2) + math.exp(-0.5 * ((hour - 18.0) / 2.0) ** 2)
    return max(0.7, 1.0 - 0.3 * peaks)


def _padded_successors(city: City) -> IntArray:
    """Successors of each link as rows of a matrix, -1 where a link has fewer."""
    counts = np.diff(city.succ_indptr)
    out = np.full((city.n_links, int(counts.max())), -1, dtype=np.int64)
    col = np.arange(city.succ_indices.shape[0]) - np.repeat(city.succ_indptr[:-1], counts)
    out[np.repeat(np.arange(city.n_links), counts), col] = city.succ_indices
    return out


class _Fleet:
    """State of every taxi, advanced one tick at a time."""

    def __init__(
        self, city: City, field: DemandField, taxis: int, rng: np.random.Generator
    ) -> None:
        self.city = city
        self.rng = rng
        self.succ = _padded_successors(city)
        self.node_w = field.intensity(city.node_x, city.node_y)
        self.link_w = (self.node_w[city.link_from] + self.node_w[city.link_to]) / 2
        self.cruise_w = np.sqrt(self.node_w)  # drawn to busy streets, yet spread over the city
        self.length = city.link_length_m
        self.speed_ms = city.link_speed_kph / 3.6
        self.on = np.zeros(taxis, dtype=np.bool_)
        self.link = np.zeros(taxis, dtype=np.int64)
        self.pos = np.zeros(taxis)
        self.occ = np.zeros(taxis, dtype=np.bool_)
        self.dest = np.zeros(taxis, dtype=np.int64)
        self.deadline = np.zeros(taxis)
        self.next_fix = np.zeros(taxis, dtype=np.int64)
        self.velocity = np.zeros(taxis)
        self.factor = rng.uniform(0.85, 1.1, taxis)
        self.trip_median_m = min(TRIP_MEDIAN_M, TRIP_CITY_SHARE * field.half_width_m)
        self.pickups = 0

    # shifts ----------------------------------------------------------------------------------

    def shift(self, want: BoolArray, t: int) -> None:
        start = np.flatnonzero(want & ~self.on)
        if start.size:
            self.link[start] = self.rng.integers(0, self.city.n_links, start.size)
            self.pos[start] = self.rng.uniform(0.0, 1.0, start.size) * self.length[self.link[start]]
            self.occ[start] = False
            self.next_fix[start] = t + self.rng.integers(0, FIX_MAX_S, start.size)
            self.on[start] = True
        self.on &= want | self.occ  # off shift once the passenger is dropped

    # driving ---------------------------------------------------------------------------------

    def _next_links(self, idx: IntArray) -> IntArray:
        city = self.city
        cand = self.succ[self.link[idx]]
        valid = cand >= 0
        to = city.link_to[np.where(valid, cand, 0)]
        weight = self.cruise_w[to]
        occ = self.occ[idx]
        if occ.any():
            dest = self.dest[idx[occ]]
            dx = city.node_x[to[occ]] - city.node_x[dest][:, None]
            dy = city.node_y[to[occ]] - city.node_y[dest][:, None]
            dist = np.where(valid[occ], np.hypot(dx, dy), np.inf)
            extra = dist - dist.min(axis=1, keepdims=True)
            weight[occ] = np.exp(-extra / (city.block_m / 4))
        weight = np.where(valid, weight, 0.0)
        cum = np.cumsum(weight, axis=1)
        u = self.rng.uniform(0.0, 1.0, idx.size) * cum[:, -1]
        choice = np.minimum((cum <= u[:, None]).sum(axis=1), cand.shape[1] - 1)
        picked = cand[np.arange(idx.size), choice]
        return np.where(picked >= 0, picked, cand[:, 0])

    def drive(self, t: int, speed_factor: float) -> None:
        city = self.city
        active = np.flatnonzero(self.on)
        v = self.speed_ms[self.link[active]] * self.factor[active] * speed_factor
        v = np.where(self.occ[active], v, v * CRUISE_SPEED)
        self.velocity[active] = v
        self.pos[active] += v * TICK_S
        idx = active[self.pos[active] >= self.length[self.link[active]]]
        while idx.size:
            self.pos[idx] -= self.length[self.link[idx]]
            riding = idx[self.occ[idx]]
            if riding.size:
                node = city.link_to[self.link[riding]]
                dest = self.dest[riding]
                gap = np.hypot(
                    city.node_x[node] - city.node_x[dest], city.node_y[node] - city.node_y[dest]
                )
                arrived = (gap < ARRIVE_BLOCKS * city.block_m) | (t >= self.deadline[riding])
                self.occ[riding[arrived]] = False
            self.link[idx] = self._next_links(idx)
            idx = idx[self.pos[idx] >= self.length[self.link[idx]]]

    def _destinations(self, origin: IntArray) -> tuple[IntArray, FloatArray]:
        """A destination intersection for trips starting at nodes ``origin``, and its distance."""
        city, rng, k = self.city, self.rng, DESTINATION_CANDIDATES
        n = origin.size
        dist = self.trip_median_m * np.exp(TRIP_SIGMA * rng.standard_normal((n, k)))
        angle = rng.uniform(0.0, 2 * np.pi, (n, k))
        px = city.node_x[origin][:, None] + dist * np.cos(angle)
        py = city.node_y[origin][:, None] + dist * np.sin(angle)
        col = np.rint(px / city.block_m + (city.cols - 1) / 2).astype(np.int64)
        row = np.rint(py / city.block_m + (city.rows - 1) / 2).astype(np.int64)
        inside = (col >= 0) & (col < city.cols) & (row >= 0) & (row < city.rows)
        node = np.clip(row, 0, city.rows - 1) * city.cols + np.clip(col, 0, city.cols - 1)
        weight = self.node_w[node] * np.where(inside, 1.0, 1e-6)
        cum = np.cumsum(weight, axis=1)
        u = rng.uniform(0.0, 1.0, n) * cum[:, -1]
        choice = np.minimum((cum <= u[:, None]).sum(axis=1), k - 1)
        dest = node[np.arange(n), choice]
        straight = np.hypot(
            city.node_x[dest] - city.node_x[origin], city.node_y[dest] - city.node_y[origin]
        )
        return dest, straight

    def pick_up(self, want: BoolArray, t: int, profile: float) -> None:
        vacant = np.flatnonzero(self.on & ~self.occ & want)
        hazard = PICKUP_RATE_PER_S * profile * self.link_w[self.link[vacant]] * TICK_S
        hit = vacant[self.rng.uniform(0.0, 1.0, vacant.size) < -np.expm1(-hazard)]
        if hit.size:
            dest, straight = self._destinations(self.city.link_to[self.link[hit]])
            self.occ[hit] = True
            self.dest[hit] = dest
            self.deadline[hit] = t + 3 * straight / 5.0 + 600
            self.pickups += int(hit.size)

    # fixes -----------------------------------------------------------------------------------

    def fixes(self, t: int) -> Part:
        city = self.city
        due = np.flatnonzero(self.on & (self.next_fix <= t))
        ts = self.next_fix[due].copy()
        link = self.link[due]
        back = np.maximum(self.pos[due] - self.velocity[due] * (t - ts), 0.0)
        share = back / self.length[link]
        a, b = city.link_from[link], city.link_to[link]
        x = city.node_x[a] + share * (city.node_x[b] - city.node_x[a])
        y = city.node_y[a] + share * (city.node_y[b] - city.node_y[a])
        noise = self.rng.standard_normal((2, due.size)) * GPS_SIGMA_M
        lat, lon = to_lat_lon(x + noise[0], y + noise[1], city.centre_lat, city.centre_lon)
        self.next_fix[due] += self.rng.integers(FIX_MIN_S, FIX_MAX_S + 1, due.size)
        return due, ts, np.round(lat, 6), np.round(lon, 6), self.occ[due].copy()


def _shifts(
    taxis: int, days: int, start: date, tz: ZoneInfo, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """Shift start and end instants (unix seconds), shape (days + 1, taxis): the day before the
    first, then each day; a day off has start == end."""
    midnights = np.array(_midnights(start - timedelta(days=1), days, tz))
    day_driver = rng.uniform(0.0, 1.0, taxis) < DAY_DRIVERS
    earliest = np.where(day_driver, 4 * 3600, 15 * 3600)
    offset = earliest + rng.integers(0, 4 * 3600, (days + 1, taxis))
    length = rng.integers(8 * 3600, 11 * 3600, (days + 1, taxis))
    off = rng.uniform(0.0, 1.0, (days + 1, taxis)) < DAY_OFF
    begin = midnights[:, None] + offset
    return begin, np.where(off, begin, begin + length)


def _split(parts: list[Part], end: int) -> tuple[Part, Part]:
    """The fixes before ``end`` (unix seconds) and those from it on."""
    veh, ts, lat, lon, occ = (np.concatenate([p[i] for p in parts]) for i in range(5))
    early = ts < end
    return (
        (veh[early], ts[early], lat[early], lon[early], occ[early]),
        (veh[~early], ts[~early], lat[~early], lon[~early], occ[~early]),
    )


def _write_day(path: Path, names: pa.Array, part: Part) -> int:
    """One day's fixes as a CSV sorted by vehicle and time; the count of rows."""
    veh, ts, lat, lon, occ = part
    order = np.lexsort((ts, veh))
    table = pa.table(
        {
            "vehicle_id": names.take(pa.array(veh[order])),
            "ts": pa.array(ts[order], pa.int64()),
            "lat": pa.array(lat[order], pa.float64()),
            "lon": pa.array(lon[order], pa.float64()),
            "occupied": pa.array(occ[order].astype(np.int8), pa.int8()),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")  # no comma in a value
    with pa.OSFile(str(path), "wb") as sink:
        sink.write((",".join(COLUMNS) + "\n").encode())  # Arrow would quote the names
        pacsv.write_csv(table, sink, write_options=options)
    return int(table.num_rows)


def _midnights(start: date, days: int, tz: ZoneInfo) -> list[int]:
    """Local midnights (unix seconds) opening each day and closing the last."""
    return [int(local_midnight(start + timedelta(days=d), tz).timestamp()) for d in range(days + 1)]


def simulated_hours(start: date, days: int, tz: ZoneInfo) -> int:
    """Hours the fleet is simulated for (a day of a daylight-saving change has 23 or 25)."""
    bounds = _midnights(start, days, tz)
    return (bounds[-1] - bounds[0]) // 3600


def write_telemetry(
    city: City,
    field: DemandField,
    taxis: int,
    days: int,
    start: date,
    tz: ZoneInfo,
    seed: int,
    out_dir: Path,
    hour_profile: FloatArray | None = None,
    progress: Callable[[str], None] | None = None,
) -> TelemetryReport:
    """Simulate ``taxis`` taxis for ``days`` local days from ``start`` and write one CSV per day
    into ``out_dir`` (see the module docstring). ``hour_profile`` is the relative pickup rate of
    each local hour of the week (168 values, mean 1; default the built-in
    :func:`~taxinav.synth.demand.hour_of_week_profile`); ``progress`` is called once per simulated
    hour."""
    if taxis < 1 or days < 1:
        raise ValueError(f"a fleet needs at least one taxi and one day, not {taxis} and {days}")
    began = time.perf_counter()
    rng = np.random.default_rng([seed, 2])
    shift_begin, shift_end = _shifts(taxis, days, start, tz, rng)
    fleet = _Fleet(city, field, taxis, rng)
    profile = hour_of_week_profile() if hour_profile is None else np.asarray(hour_profile)
    if profile.shape != (168,) or not np.isfinite(profile).all() or (profile < 0).any():
        raise ValueError("an hour-of-week profile is 168 finite values, none negative")
    names = pa.array([f"synth{i:05d}" for i in range(taxis)], pa.string())
    bounds = _midnights(start, days, tz)
    files: list[Path] = []
    parts: list[Part] = []
    fixes = 0
    day, hour_end, profile_now, speed_now = 0, bounds[0], 1.0, 1.0

    def flush() -> list[Part]:
        """Write the day's fixes; the ones already past its end are kept for the next."""
        nonlocal fixes
        done, rest = _split(parts, bounds[day + 1])
        path = out_dir / f"{(start + timedelta(days=day)).isoformat()}.csv"
        fixes += _write_day(path, names, done)
        files.append(path)
        return [rest]

    for t in range(bounds[0] + TICK_S, bounds[-1] + 1, TICK_S):
        if t > bounds[day + 1]:  # a day's last tick is at its closing midnight
            parts = flush()
            day += 1
        if t > hour_end:
            local = datetime.fromtimestamp(hour_end, tz)
            profile_now = float(profile[local.weekday() * 24 + local.hour])
            speed_now = congestion(local.hour + 0.5)
            hour_end += 3600
            if progress is not None:
                progress(local.strftime("%Y-%m-%d %H:00"))
        want = ((shift_begin[day + 1] <= t) & (t < shift_end[day + 1])) | (
            (shift_begin[day] <= t) & (t < shift_end[day])
        )
        fleet.shift(want, t)
        fleet.drive(t, speed_now)
        fleet.pick_up(want, t, profile_now)
        parts.append(fleet.fixes(t))
    flush()
    return TelemetryReport(tuple(files), fixes, fleet.pickups, time.perf_counter() - began)
