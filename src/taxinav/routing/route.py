"""A recommended route and the checks every route passes before it is served."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from taxinav.roads.geo import LocalProjection
from taxinav.routing.mdp import FloatArray, IntArray

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    """Segments to drive in order, from the end of the vehicle's current segment."""

    vehicle_id: str
    start_segment: int
    segments: IntArray
    eta_s: FloatArray  # seconds from now until each segment is entered
    p_step: FloatArray  # chance of a passenger on each segment, if none was found before
    length_m: float
    duration_s: float

    @property
    def waits(self) -> NDArray[np.bool_]:
        """Steps that wait a tick where the previous step ended (the segment repeats)."""
        prev = np.r_[self.start_segment, self.segments[:-1]]
        out: NDArray[np.bool_] = self.segments == prev
        return out

    @property
    def p_cumulative(self) -> FloatArray:
        """Chance of having found a passenger by the end of each step."""
        out: FloatArray = 1.0 - np.cumprod(1.0 - self.p_step)
        return out

    def geojson(self, shapes: SegmentShapes) -> dict[str, Any]:
        """A GeoJSON Feature drawn from the segments' polylines (``shapes``, e.g. the
        ``RoadGraph``); a step whose line starts where the previous one ended continues it."""
        segs = self.segments.astype(np.int64)
        lo, hi = shapes.shape_indptr[segs], shapes.shape_indptr[segs + 1]
        n = hi - lo
        first = np.r_[0, np.cumsum(n)[:-1]].astype(np.int64)  # each step's first point
        idx = np.repeat(lo - first, n) + np.arange(int(n.sum()))
        lon, lat = np.round(shapes.shape_lon[idx], 6), np.round(shapes.shape_lat[idx], 6)
        last = first + n - 1
        joined = np.zeros(segs.size, dtype=bool)
        joined[1:] = (lon[first[1:]] == lon[last[:-1]]) & (lat[first[1:]] == lat[last[:-1]])
        keep = np.ones(idx.size, dtype=bool)
        keep[first[joined]] = False
        before = np.cumsum(keep) - keep  # points kept before each point
        starts = before[first] - joined  # a joined step starts at the previous step's end
        return {
            "type": "Feature",
            "geometry": {"type": "LineString",
                         "coordinates": np.c_[lon[keep], lat[keep]].tolist()},
            "properties": {
                "vehicle_id": self.vehicle_id,
                "segments": self.segments.tolist(),
                "step_start": starts.tolist(),
                "wait": self.waits.tolist(),
                "eta_s": np.round(self.eta_s, 1).tolist(),
                "p_step": np.round(self.p_step, 4).tolist(),
                "p_cumulative": np.round(self.p_cumulative, 4).tolist(),
                "length_m": round(self.length_m, 1),
                "duration_s": round(self.duration_s, 1),
            },
        }  # fmt: skip


class SegmentShapes(Protocol):
    """Segment polylines as CSR (``RoadGraph`` has these)."""

    @property
    def shape_indptr(self) -> IntArray: ...
    @property
    def shape_lat(self) -> FloatArray: ...
    @property
    def shape_lon(self) -> FloatArray: ...


def area_polygon(
    lat: ArrayLike, lon: ArrayLike, margin_m: float = 50.0
) -> tuple[FloatArray, FloatArray]:
    """Latitudes and longitudes of the convex hull of the points, grown by ``margin_m``.

    Grown in local metres so the margin is the same in every direction; the margin keeps
    points on the hull inside despite rounding when the polygon goes back to degrees."""
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    if lat.size == 0:
        raise ValueError("no points to build an area from")
    proj = LocalProjection(float(lat.mean()), float(lon.mean()))
    x, y = proj.to_xy(lat, lon)
    # buffer() also turns a degenerate hull (one point, a line) into a polygon.
    area = shapely.MultiPoint(np.c_[x, y]).convex_hull.buffer(margin_m)
    if area.is_empty or area.geom_type != "Polygon":
        raise ValueError("the points span no area; use a positive margin")
    hx, hy = np.asarray(area.exterior.coords, dtype=np.float64).T
    return proj.to_latlon(hx, hy)


def segments_inside(
    shape_indptr: ArrayLike, shape_lat: ArrayLike, shape_lon: ArrayLike,
    poly_lat: ArrayLike, poly_lon: ArrayLike,
) -> NDArray[np.bool_]:  # fmt: skip
    """Per segment: every point of its shape (CSR over ``shape_indptr``) lies in the polygon
    or on its edge. The test is done in degrees: containment does not change under the
    affine map to local metres, so no projection is needed."""
    indptr = np.asarray(shape_indptr, dtype=np.int64)
    area = shapely.Polygon(np.c_[np.asarray(poly_lon), np.asarray(poly_lat)])
    shapely.prepare(area)
    pts_in = np.asarray(shapely.intersects_xy(area, np.asarray(shape_lon), np.asarray(shape_lat)))
    n = indptr.shape[0] - 1
    seg_of_point = np.repeat(np.arange(n), np.diff(indptr))
    # Count the points outside per segment (robust to segments without points, unlike reduceat).
    out: NDArray[np.bool_] = np.bincount(seg_of_point[~pts_in], minlength=n) == 0
    return out


def network_area_mask(graph: SegmentShapes, margin_m: float = 50.0) -> NDArray[np.bool_]:
    """``RouteChecker.inside`` for a network: its segments against the convex hull of all their
    shape points, grown by ``margin_m`` (all True for the network itself; the check then
    guards against routes on segments that come from elsewhere, e.g. a stale or other graph)."""
    poly_lat, poly_lon = area_polygon(graph.shape_lat, graph.shape_lon, margin_m)
    return segments_inside(graph.shape_indptr, graph.shape_lat, graph.shape_lon, poly_lat, poly_lon)


@dataclass(frozen=True)
class RouteLimits:
    max_length_m: float = 20_000.0
    max_duration_s: float = 1_800.0
    max_visits: int = 3  # drives along one segment per route; waiting on it does not count
    # ... and the share of the route's drives it takes: a taxi circling a block drives each
    # of its segments a quarter of the time, one sent to and fro between two half the time
    loop_share: float = 0.4


@dataclass
class RouteChecker:
    """Connected, legal (the graph's moves only), inside the mapped area, within bounds."""

    succ_indptr: IntArray
    succ_indices: IntArray
    length_m: FloatArray
    inside: np.ndarray  # per segment: lies in the mapped area
    limits: RouteLimits = field(default_factory=RouteLimits)
    can_wait: np.ndarray | None = None  # per segment: a taxi may stand there
    failures: Counter[str] = field(default_factory=Counter)

    def problem(self, route: Route) -> str | None:
        """Why the route must not be served, or None."""
        return self._path_problem(route) or self._loop_problem(route) or self._step_problem(route)

    def _path_problem(self, route: Route) -> str | None:
        n = self.length_m.shape[0]
        segs = route.segments
        if segs.size == 0:
            return "empty"
        if (segs < 0).any() or (segs >= n).any() or not 0 <= route.start_segment < n:
            return "unknown_segment"
        if not self.inside[segs].all():
            return "outside_area"
        prev = np.r_[route.start_segment, segs[:-1]]
        for a, b in zip(prev.tolist(), segs.tolist(), strict=True):
            if a == b:
                if self.can_wait is None or not self.can_wait[a]:
                    return f"illegal_wait:{a}"
            elif b not in self.succ_indices[self.succ_indptr[a] : self.succ_indptr[a + 1]]:
                return f"illegal_move:{a}->{b}"
        return None

    def _loop_problem(self, route: Route) -> str | None:
        """The first segment driven more than ``max_visits`` times and more than ``loop_share``
        of the route's drives: a taxi sent to and fro instead of cruising."""
        drives = route.segments[~route.waits].tolist()
        bound = max(self.limits.max_visits, self.limits.loop_share * len(drives))
        visits: Counter[int] = Counter()
        for s in drives:
            visits[s] += 1
            if visits[s] > bound:
                return f"loop:{s}"
        return None

    def _step_problem(self, route: Route) -> str | None:
        segs = route.segments
        if len(route.eta_s) != segs.size or len(route.p_step) != segs.size:
            return "inconsistent_steps"
        if (np.diff(route.eta_s) <= 0).any() or route.eta_s[0] < 0:
            return "eta_not_increasing"
        # The graph's length of the segments driven (a wait drives nothing): a wrong stated
        # length or a segment swapped for one of another length is caught here.
        if not np.isclose(route.length_m, float(self.length_m[segs[~route.waits]].sum())):
            return "length_mismatch"
        if route.length_m > self.limits.max_length_m:
            return "too_long"
        if not 0 < route.duration_s <= self.limits.max_duration_s:
            return "duration_out_of_bounds"
        if ((route.p_step < 0) | (route.p_step > 1)).any():
            return "probability_out_of_range"
        return None

    def admit(self, route: Route) -> bool:
        """True if the route may be served; otherwise count and log the reason."""
        reason = self.problem(route)
        if reason is None:
            return True
        kind = reason.split(":")[0]
        self.failures[kind] += 1
        log.warning("route for vehicle %s rejected: %s", route.vehicle_id, reason)
        return False
