"""Where and when passengers appear in the synthetic city: an hour-of-week profile times a
spatial intensity.

The **hour-of-week profile** (:func:`hour_of_week_profile`, 168 values for Monday 00:00 …
Sunday 23:00 local time, mean 1) is a smooth built-in shape fitted by eye to the San Francisco
cabspotting pickups: a floor at 04:00–05:00, a small morning peak on working days, a midday
plateau, the evening peak at 20:00–21:00, and long Friday and Saturday nights; weekends start
later. Its correlation with the real profile (``sf_profile.py``, 537 cabs, 2008-05-17 to 06-01)
is 0.92. It is a fixed shape, not read from the shared data, so a city can be made anywhere
without them; ``taxinav synth city --hour-profile sf`` uses the real one.

The **spatial intensity** (:class:`DemandField`) is the San Francisco pattern stretched over the
city: one downtown core, a Gaussian at the city's centre with a standard deviation of 0.3 of the
city's half-width, plus four smaller hotspots (standard deviation 0.1 of the half-width, half the
core's height) placed by the seed uniformly on the disc of 0.6 of the half-width around the
centre, on a floor of 0.1 of the core's height. Values are scaled to mean 1 over the city's
nodes, so a pickup rate given "at mean intensity" is the city-wide average. The busiest part is
always the centre: the intensity falls with distance from it everywhere a hotspot is not.
``taxinav synth city --spatial-profile sf`` instead stretches the density map of the real San
Francisco pickups (``sf_profile.py``: 48 × 48 cells over where they happen) over the city.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

CORE_SIGMA = 0.3  # of the half-width
HOTSPOTS = 4
HOTSPOT_SIGMA = 0.1
HOTSPOT_HEIGHT = 0.5
HOTSPOT_REACH = 0.6
FLOOR = 0.1


def _bump(hours: FloatArray, centre: float, width: float) -> FloatArray:
    """A Gaussian bump over the week, wrapping around from Sunday night to Monday morning."""
    d = np.abs(hours - centre) % 168.0
    d = np.minimum(d, 168.0 - d)
    return np.asarray(np.exp(-0.5 * (d / width) ** 2))


def hour_of_week_profile() -> FloatArray:
    """Relative pickup rate of each local hour of the week (index ``weekday * 24 + hour``,
    Monday 0), mean 1; the value of an hour is the shape at its middle."""
    hours = np.arange(168, dtype=np.float64) + 0.5
    rate = np.full(168, 0.15)
    for day in range(7):
        base = 24.0 * day
        weekend = day >= 5
        rate += (0.45 if weekend else 0.5) * _bump(hours, base + (11.0 if weekend else 8.5), 1.8)
        rate += 0.7 * _bump(hours, base + 13.5, 2.5)
        rate += (0.8 if day == 6 else 1.1) * _bump(hours, base + 20.5, 2.5)
        late = 1.4 if day in (4, 5) else 0.5  # Friday and Saturday nights run past midnight
        rate += late * _bump(hours, base + 24.0, 2.0)
    return rate / rate.mean()


@dataclass(frozen=True)
class DemandField:
    """The spatial intensity of pickups over the city (metres from its centre): the built-in
    core and hotspots, or a density map (``density``, row 0 south, column 0 west) stretched
    over the city's square, each cell on a floor of ``FLOOR`` of the map's mean."""

    half_width_m: float
    hotspot_x: FloatArray
    hotspot_y: FloatArray
    scale: float  # divides the raw sum so that the mean over the city's nodes is 1
    density: FloatArray | None = None

    def raw(self, x: FloatArray, y: FloatArray) -> FloatArray:
        h = self.half_width_m
        if self.density is not None:
            cells = self.density.shape[0]
            col = np.clip(((x + h) / (2 * h) * cells).astype(np.int64), 0, cells - 1)
            row = np.clip(((y + h) / (2 * h) * cells).astype(np.int64), 0, cells - 1)
            return np.asarray(FLOOR * self.density.mean() + self.density[row, col], np.float64)
        value = FLOOR + np.exp(-0.5 * (np.hypot(x, y) / (CORE_SIGMA * h)) ** 2)
        for hx, hy in zip(self.hotspot_x, self.hotspot_y, strict=True):
            dist = np.hypot(x - hx, y - hy)
            value = value + HOTSPOT_HEIGHT * np.exp(-0.5 * (dist / (HOTSPOT_SIGMA * h)) ** 2)
        return np.asarray(value, dtype=np.float64)

    def intensity(self, x: FloatArray, y: FloatArray) -> FloatArray:
        """Relative pickup intensity at points ``x`` metres east, ``y`` north of the centre."""
        return self.raw(x, y) / self.scale


def demand_field(
    node_x: FloatArray, node_y: FloatArray, seed: int, density: FloatArray | None = None
) -> DemandField:
    """The field for a city whose nodes lie at ``node_x``, ``node_y``: hotspots from ``seed``,
    or the ``density`` map (e.g. the real San Francisco pickups, ``sf_profile.py``)."""
    half = float(max(np.abs(node_x).max(), np.abs(node_y).max()))
    rng = np.random.default_rng([seed, 3])
    reach = HOTSPOT_REACH * half * np.sqrt(rng.uniform(0.0, 1.0, HOTSPOTS))  # uniform on a disc
    angle = rng.uniform(0.0, 2 * np.pi, HOTSPOTS)
    x, y = reach * np.cos(angle), reach * np.sin(angle)
    field = DemandField(half, x, y, 1.0, density)
    return DemandField(half, x, y, float(field.raw(node_x, node_y).mean()), density)
