"""GeoJSON feature collections served by map view: each feature is serialised once, with its
extent, and a request for a bounding box gets only the features that intersect it (a
metropolis's 200,000 road segments are tens of MiB; a street-level view holds a few hundred)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BBox:
    """A map view: west, south, east, north in WGS84 degrees."""

    west: float
    south: float
    east: float
    north: float

    @classmethod
    def parse(cls, text: str) -> BBox:
        """``west,south,east,north``; a ValueError says what is wrong."""
        parts = text.split(",")
        if len(parts) != 4:
            raise ValueError(f"bbox {text!r}: give west,south,east,north (4 numbers)")
        try:
            w, s, e, n = (float(p) for p in parts)
        except ValueError:
            raise ValueError(f"bbox {text!r}: not 4 numbers") from None
        if not all(math.isfinite(v) for v in (w, s, e, n)):
            raise ValueError(f"bbox {text!r}: not finite")
        if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise ValueError(f"bbox {text!r}: needs -180 ≤ west < east ≤ 180 and "
                             f"-90 ≤ south < north ≤ 90")  # fmt: skip
        return cls(w, s, e, n)


def _extent(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    xy = np.asarray(geometry["coordinates"], dtype=np.float64).reshape(-1, 2)
    return (
        float(xy[:, 0].min()),
        float(xy[:, 1].min()),
        float(xy[:, 0].max()),
        float(xy[:, 1].max()),
    )


class FeatureIndex:
    """A FeatureCollection's features as serialised pieces, findable by extent."""

    def __init__(self, collection: dict[str, Any]) -> None:
        features = collection["features"]
        self._parts = [json.dumps(f, separators=(",", ":")).encode() for f in features]
        extents = [_extent(f["geometry"]) for f in features]
        self._box = np.array(extents, dtype=np.float64).reshape(-1, 4)
        rest = {k: v for k, v in collection.items() if k not in ("type", "features")}
        self._tail = b"".join(
            b',"' + k.encode() + b'":' + json.dumps(v, separators=(",", ":")).encode()
            for k, v in rest.items()
        )
        self._whole: bytes | None = None

    def __len__(self) -> int:
        return len(self._parts)

    def collection(self, bbox: BBox | None = None) -> bytes:
        """The collection, or only the features intersecting ``bbox``."""
        if bbox is None:
            if self._whole is None:
                self._whole = self._join(range(len(self._parts)))
            return self._whole
        b = self._box
        hit = ((b[:, 0] <= bbox.east) & (b[:, 2] >= bbox.west) & (b[:, 1] <= bbox.north)
               & (b[:, 3] >= bbox.south))  # fmt: skip
        return self._join(np.flatnonzero(hit).tolist())

    def _join(self, rows: Any) -> bytes:
        body = b",".join(self._parts[i] for i in rows)
        return b'{"type":"FeatureCollection","features":[' + body + b"]" + self._tail + b"}"
