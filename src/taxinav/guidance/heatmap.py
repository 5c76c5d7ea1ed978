"""The demand heatmap as a simulator policy: the product drivers already have.

Commercial taxi apps show drivers a map of forecast demand on a mesh of roughly 500 m, and
drivers head for the hottest patch nearby. This policy models that baseline, so the
coordinated recommender (``policy.py``) is judged against what a driver with such an app
does, not only against random or habitual cruising. Every ``refresh_s`` each vacant taxi of
the group picks the H3 cell (resolution 8, ~460 m edge) within ``radius_m`` with the most
forecast pickups per vacant taxi, drives the shortest path there, and cruises inside it
towards its busier streets. Like the deployed service it sees the fleet only through GPS
fixes (``telemetry.FixStream``) when given a stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import h3
import numpy as np
from numpy.typing import NDArray

from taxinav.features import Slotting
from taxinav.guidance.demand import DemandSource
from taxinav.guidance.factory import GuidedFactory
from taxinav.guidance.telemetry import FixStream
from taxinav.roads.geo import haversine_m
from taxinav.sim.dispatch import Router
from taxinav.sim.engine import FleetView
from taxinav.sim.world import Network

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
# Added to every successor's rate when cruising, so that streets without forecast demand
# stay possible (an all-zero forecast then means a uniform draw, not a stuck taxi). Rates are
# pickups per second (~1e-4 on a busy street), so this barely shifts busy choices.
CRUISE_EPS = 1e-6
ROUTER_LIMIT_S = 3600.0  # far beyond any cell within the radius


def cells_of_segments(
    mid_lat: FloatArray, mid_lon: FloatArray, resolution: int
) -> tuple[IntArray, FloatArray, FloatArray]:
    """The H3 cell of each segment's midpoint: ``cell_of[s]`` indexes the cells (sorted by
    H3 id, so the numbering is reproducible), whose centres are ``cell_lat``, ``cell_lon``."""
    ids = [str(h3.latlng_to_cell(float(a), float(b), resolution))
           for a, b in zip(mid_lat.tolist(), mid_lon.tolist(), strict=True)]  # fmt: skip
    cells, inverse = np.unique(np.array(ids, dtype=str), return_inverse=True)
    centres = [h3.cell_to_latlng(str(c)) for c in cells.tolist()]
    cell_lat = np.array([float(c[0]) for c in centres], dtype=np.float64)
    cell_lon = np.array([float(c[1]) for c in centres], dtype=np.float64)
    return inverse.astype(np.int64).reshape(-1), cell_lat, cell_lon


class HeatmapPolicy:
    """Each vacant taxi of the group drives to the nearby cell with the best forecast
    pickups per vacant taxi, then cruises inside it (see the module docstring)."""

    name = "heatmap"

    def __init__(self, network: Network, cell_of: IntArray, cell_lat: FloatArray,
                 cell_lon: FloatArray, demand: DemandSource, stream: FixStream | None,
                 router: Router, radius_m: float, refresh_s: float, horizon_s: float, *,
                 paths: dict[int, FloatArray] | None = None) -> None:  # fmt: skip
        self.network = network
        self.cell_of = np.asarray(cell_of, dtype=np.int64)
        self.cell_lat = cell_lat
        self.cell_lon = cell_lon
        self.demand = demand
        self.stream = stream  # None: the simulator's exact positions
        self.router = router
        self.radius_m = radius_m
        self.refresh_s = refresh_s
        self.horizon_s = horizon_s
        self.wait_s = 60.0  # only used by a segment without successors
        self.demand_label: dict[str, Any] = {**demand.label, "policy": self.name,
                                             "radius_m": radius_m}  # fmt: skip
        n_cells = cell_lat.shape[0]
        order = np.argsort(self.cell_of, kind="stable")
        bounds = np.searchsorted(self.cell_of[order], np.arange(n_cells + 1))
        self.segments_of_cell = [order[bounds[c] : bounds[c + 1]] for c in range(n_cells)]
        self.near = self._near_cells()
        # Free-flow seconds to each cell, filled on first use: the graph is static, so the
        # factory may share this dict across days.
        self.paths: dict[int, FloatArray] = paths if paths is not None else {}
        self.target: dict[int, int] = {}  # vehicle → cell it heads for
        self.score: FloatArray = np.zeros(n_cells)
        self.last_refresh = -np.inf
        self._rate: FloatArray | None = None  # the heatmap as of the last refresh
        self._mine: set[int] = set()

    def _near_cells(self) -> list[IntArray]:
        """Per cell, the cells (with roads) whose centres lie within ``radius_m``, nearest
        first (the cell itself leads), so the first best score is the nearest one."""
        has_roads = np.array([s.size > 0 for s in self.segments_of_cell], dtype=bool)
        out = []
        for c in range(self.cell_lat.shape[0]):  # row by row: no n² matrix in memory
            d = haversine_m(self.cell_lat[c], self.cell_lon[c], self.cell_lat, self.cell_lon)
            d[c] = 0.0
            inside = np.flatnonzero((d <= self.radius_m) & has_roads)
            out.append(inside[np.argsort(d[inside], kind="stable")].astype(np.int64))
        return out

    def observe(self, view: FleetView) -> None:
        """Take in the tick's telemetry; every ``refresh_s``, redraw the heatmap and send
        each of the group's vacant taxis to its best nearby cell."""
        if self.stream is not None:
            self.stream.update(view)
        self._mine.update(view.vehicle[view.mine].tolist())
        if view.t - self.last_refresh < self.refresh_s or not view.mine.any():
            return
        self.last_refresh = t = view.t
        self._rate = rate = self.demand.at(t)
        n_cells = self.cell_lat.shape[0]
        forecast = np.bincount(self.cell_of, weights=rate * self.horizon_s, minlength=n_cells)
        vehicle, segment = self._vacant(view)
        vacant = np.bincount(self.cell_of[segment], minlength=n_cells)
        # Kept simple, as the apps do: a taxi counts itself among the vacant taxis of its own
        # cell (it is not subtracted), which slightly favours moving over staying.
        self.score = forecast / (vacant + 1.0)
        best: dict[int, int] = {}
        self.target = {}
        for v, s in zip(vehicle.tolist(), segment.tolist(), strict=True):
            if v not in self._mine:
                continue
            c = int(self.cell_of[s])
            if c not in best:
                near = self.near[c]
                best[c] = int(near[np.argmax(self.score[near])])  # ties: the nearest
            self.target[v] = best[c]

    def _vacant(self, view: FleetView) -> tuple[IntArray, IntArray]:
        """The vacant fleet and where it is, as the service knows it: the last vacant fix of
        each taxi; without a stream, the simulator's taxis not already sent to a booking."""
        if self.stream is not None:
            return self.stream.vacant_fleet(view.t)
        free = ~view.committed
        return (view.vehicle[free].astype(np.int64), view.segment[free].astype(np.int64))

    def _time_to(self, cell: int) -> FloatArray:
        if cell not in self.paths:
            targets = self.segments_of_cell[cell]
            self.paths[cell] = (self.router.time_to(targets) if targets.size else
                                np.full(self.network.n_segments, np.inf))  # fmt: skip
        return self.paths[cell]

    def choose(self, vehicle: int, segment: int, t: float, rng: np.random.Generator) -> int:
        succ = self.network.successors(segment)
        if succ.size == 0:
            return segment  # a dead end: wait (the only legal choice)
        target = self.target.get(vehicle)
        if target is not None and int(self.cell_of[segment]) != target:
            time_to = self._time_to(target)
            if np.isfinite(time_to[succ]).any():
                return self.router.next_toward(segment, time_to)
            return int(succ[rng.integers(succ.shape[0])])  # unreachable: drift on
        # In the target cell (or no target yet): cruise its streets by forecast demand. The
        # rate of the last refresh is what the driver's map shows, and re-reading the
        # forecast here could re-score the model for a time just before a slot boundary.
        rate = self._rate if self._rate is not None else self.demand.at(t)
        here = succ[self.cell_of[succ] == self.cell_of[segment]]
        if here.size == 0:
            return int(succ[np.argmax(rate[succ])])  # leaving the cell: the busiest way out
        weight = rate[here] + CRUISE_EPS
        return int(here[rng.choice(here.shape[0], p=weight / weight.sum())])


@dataclass
class HeatmapFactory:
    """What heatmap policies share over a period (the guided factory's demand, the cells, a
    router and its paths); ``for_day`` makes a fresh policy per run."""

    guided: GuidedFactory
    resolution: int = 8
    radius_m: float = 1500.0
    _router: Router | None = field(default=None, init=False, repr=False)
    _cells: tuple[IntArray, FloatArray, FloatArray] | None = field(
        default=None, init=False, repr=False
    )
    _paths: dict[int, FloatArray] = field(default_factory=dict, init=False, repr=False)
    _label: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @property
    def label(self) -> dict[str, Any]:
        """What the last day's policy routed on."""
        return dict(self._label)

    def cells(self) -> tuple[IntArray, FloatArray, FloatArray]:
        if self._cells is None:
            g = self.guided.graph
            self._cells = cells_of_segments(g.mid_lat, g.mid_lon, self.resolution)
        return self._cells

    def router(self) -> Router:
        if self._router is None:
            self._router = Router(self.guided.network, limit_s=ROUTER_LIMIT_S)
        return self._router

    def for_day(self, origin: datetime, seed: int) -> HeatmapPolicy:
        g = self.guided
        sl = Slotting.of_forecast(g.settings.forecast)
        stream = FixStream(g.network.n_segments, float(sl.slot_s), sl.per_day,
                           g.settings.sim.fix_interval_s, seed)  # fmt: skip
        source = g.demand_source(origin, stream)
        cell_of, cell_lat, cell_lon = self.cells()
        # The forecast's own horizon, so rate × horizon is the forecast count it shows; the
        # same refresh as the guided policy, so both see the fleet equally often.
        policy = HeatmapPolicy(g.network, cell_of, cell_lat, cell_lon, source, stream,
                               self.router(), self.radius_m, g.settings.routing.refresh_s,
                               sl.horizon_s, paths=self._paths)  # fmt: skip
        self._label = {**source.label, "policy": "heatmap", "resolution": self.resolution,
                       "radius_m": self.radius_m}  # fmt: skip
        policy.demand_label = self.label
        return policy
