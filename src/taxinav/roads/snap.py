"""Snapping single points (pickups, drop-offs) to the nearest plausible directed segment.

Candidates are segments within the radius. Each costs its distance in metres plus a heading
penalty: with a known travel heading, ``heading_weight_m * (1 - cos Δ) / 2`` (Δ between the
vehicle's and the segment's direction at the snapped point), which decides between the two
directions of a two-way street and, mildly, between crossing streets. Without a heading the
point's side of the street decides (vehicles stop on the right in the US).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from taxinav.roads.geo import LocalProjection
from taxinav.roads.graph import RoadGraph

_WRONG_SIDE_M = 2.0
# Points per spatial query: a query holds every (point, segment within the radius) pair as
# geometries (tens per point in a dense grid), so a day's fixes at once took gigabytes; in
# blocks, memory stays with the block and the answers are the same (points are independent).
BLOCK = 50_000


@dataclass(frozen=True)
class SnapResult:
    """Per input point: segment id (-1 when none within the radius), distance, position."""

    segment: NDArray[np.int64]
    distance_m: NDArray[np.float64]
    offset_frac: NDArray[np.float64]

    @property
    def matched(self) -> NDArray[np.bool_]:
        return self.segment >= 0


class SegmentIndex:
    """Spatial index of a graph's segments in local metres."""

    def __init__(self, graph: RoadGraph) -> None:
        self.graph = graph
        self.proj = LocalProjection(float(np.mean(graph.mid_lat)), float(np.mean(graph.mid_lon)))
        x, y = self.proj.to_xy(graph.shape_lat, graph.shape_lon)
        coords = np.column_stack([x, y])
        parts = np.repeat(np.arange(graph.n_segments), np.diff(graph.shape_indptr))
        self.lines = shapely.linestrings(coords, indices=parts)
        self.tree = shapely.STRtree(self.lines)

    def _tangent_deg(
        self, seg: NDArray[np.int64], along: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        lines = self.lines[seg]
        length = shapely.length(lines)
        a = shapely.line_interpolate_point(lines, np.clip(along - 1.0, 0, length))
        b = shapely.line_interpolate_point(lines, np.clip(along + 1.0, 0, length))
        dx = shapely.get_x(b) - shapely.get_x(a)
        dy = shapely.get_y(b) - shapely.get_y(a)
        return np.asarray(np.degrees(np.arctan2(dx, dy)) % 360.0)

    def within(
        self, lat: NDArray[np.float64], lon: NDArray[np.float64], radius_m: float
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """All (point index, segment id) pairs closer than ``radius_m``."""
        x, y = self.proj.to_xy(lat, lon)
        pts, segs = self.tree.query(shapely.points(x, y), predicate="dwithin", distance=radius_m)
        return np.asarray(pts, dtype=np.int64), np.asarray(segs, dtype=np.int64)

    def near(
        self, lat: NDArray[np.float64], lon: NDArray[np.float64], radius_m: float
    ) -> NDArray[np.bool_]:
        """Whether each point has any segment within ``radius_m`` (cheap pre-filter)."""
        n = int(np.shape(lat)[0])
        mask = np.zeros(n, dtype=bool)
        for a in range(0, n, BLOCK):
            near = self.within(lat[a : a + BLOCK], lon[a : a + BLOCK], radius_m)[0]
            mask[a + near] = True
        return mask

    def snap(
        self,
        lat: NDArray[np.float64],
        lon: NDArray[np.float64],
        heading_deg: NDArray[np.float64] | None = None,
        *,
        radius_m: float = 50.0,
        heading_weight_m: float = 20.0,
    ) -> SnapResult:
        """Best segment per point; NaN headings mean "unknown"."""
        lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        n = int(np.shape(lat)[0])
        heading = np.full(n, np.nan) if heading_deg is None else np.asarray(heading_deg, float)
        if n <= BLOCK:
            return self._snap(lat, lon, heading, radius_m, heading_weight_m)
        parts = [self._snap(lat[a : a + BLOCK], lon[a : a + BLOCK], heading[a : a + BLOCK],
                            radius_m, heading_weight_m) for a in range(0, n, BLOCK)]  # fmt: skip
        return SnapResult(np.concatenate([p.segment for p in parts]),
                          np.concatenate([p.distance_m for p in parts]),
                          np.concatenate([p.offset_frac for p in parts]))  # fmt: skip

    def _snap(self, lat: NDArray[np.float64], lon: NDArray[np.float64],
              heading: NDArray[np.float64], radius_m: float,
              heading_weight_m: float) -> SnapResult:  # fmt: skip
        n = int(np.shape(lat)[0])
        out = SnapResult(np.full(n, -1, np.int64), np.full(n, np.nan), np.full(n, np.nan))
        if n == 0:
            return out
        x, y = self.proj.to_xy(lat, lon)
        pts = shapely.points(x, y)
        pi, si = self.tree.query(pts, predicate="dwithin", distance=radius_m)
        if pi.size == 0:
            return out
        dist = shapely.distance(pts[pi], self.lines[si])
        along = shapely.line_locate_point(self.lines[si], pts[pi])
        tangent = self._tangent_deg(si, along)
        known = ~np.isnan(heading[pi])
        delta = np.radians(np.where(known, heading[pi], 0.0) - tangent)
        penalty = heading_weight_m * (1.0 - np.cos(delta)) / 2.0
        # Without heading: right-hand side. Cross product of the tangent and the offset.
        foot = shapely.line_interpolate_point(self.lines[si], along)
        ox, oy = x[pi] - shapely.get_x(foot), y[pi] - shapely.get_y(foot)
        tx, ty = np.sin(np.radians(tangent)), np.cos(np.radians(tangent))
        on_left = (tx * oy - ty * ox) > 0
        cost = dist + np.where(known, penalty, np.where(on_left, _WRONG_SIDE_M, 0.0))
        order = np.lexsort((si, cost, pi))
        first = order[np.r_[True, pi[order][1:] != pi[order][:-1]]]
        p = pi[first]
        out.segment[p] = si[first]
        out.distance_m[p] = dist[first]
        length = shapely.length(self.lines[si[first]])
        out.offset_frac[p] = np.where(length > 0, along[first] / np.maximum(length, 1e-9), 0.0)
        return out
