"""Reading drivable ways from an OpenStreetMap file (XML or PBF) with pyosmium."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import osmium

# Free-flow defaults for US urban streets (km/h) where no usable maxspeed is tagged.
DEFAULT_SPEED_KPH: dict[str, float] = {
    "motorway": 89.0,
    "motorway_link": 56.0,
    "trunk": 64.0,
    "trunk_link": 48.0,
    "primary": 48.0,
    "primary_link": 40.0,
    "secondary": 48.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 32.0,
    "unclassified": 40.0,
    "residential": 40.0,
    "living_street": 16.0,
}
DRIVABLE = frozenset(DEFAULT_SPEED_KPH)
_IMPLIED_ONEWAY = frozenset({"motorway", "motorway_link"})
_MPH = 1.609344
_SPEED_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$", re.IGNORECASE)


class Direction(StrEnum):
    """Which way traffic may flow along the OSM node order."""

    BOTH = "both"
    FORWARD = "forward"
    BACKWARD = "backward"
    NONE = "none"  # reversible/alternating: direction changes by time, not routable


@dataclass(frozen=True)
class Way:
    way_id: int
    node_ids: tuple[int, ...]
    highway: str
    direction: Direction
    speed_kph: float
    name: str | None


@dataclass
class OsmExtract:
    """Drivable ways and the locations/tags of the nodes they use."""

    ways: list[Way] = field(default_factory=list)
    node_lat: dict[int, float] = field(default_factory=dict)
    node_lon: dict[int, float] = field(default_factory=dict)
    traffic_signals: set[int] = field(default_factory=set)
    stop_signs: set[int] = field(default_factory=set)


def parse_maxspeed(value: str | None) -> float | None:
    """``'25 mph'`` → 40.2, ``'50'`` → 50.0 (km/h); unusable values → None."""
    if not value:
        return None
    match = _SPEED_RE.match(value.split(";")[0])
    if match is None:
        return None
    speed = float(match.group(1))
    if (match.group(2) or "").lower() == "mph":
        speed *= _MPH
    return speed if speed > 0 else None


def direction_of(tags: dict[str, str]) -> Direction:
    """Travel direction from ``oneway``, roundabouts and highway classes that imply it."""
    oneway = tags.get("oneway", "").lower()
    if oneway in {"yes", "true", "1"}:
        return Direction.FORWARD
    if oneway in {"-1", "reverse"}:
        return Direction.BACKWARD
    if oneway in {"reversible", "alternating"}:
        return Direction.NONE
    if oneway in {"no", "false", "0"}:
        return Direction.BOTH
    if tags.get("junction") in {"roundabout", "circular"}:
        return Direction.FORWARD
    if tags.get("highway") in _IMPLIED_ONEWAY:
        return Direction.FORWARD
    return Direction.BOTH


def read_osm(path: Path) -> OsmExtract:
    """All drivable ways of ``path`` with their node locations."""
    if not path.is_file():
        raise FileNotFoundError(f"OSM file {path} does not exist")
    out = OsmExtract()
    for obj in osmium.FileProcessor(str(path)).with_locations():
        if isinstance(obj, osmium.osm.Node):
            value = obj.tags.get("highway")
            if value == "traffic_signals":
                out.traffic_signals.add(obj.id)
            elif value == "stop":
                out.stop_signs.add(obj.id)
        elif isinstance(obj, osmium.osm.Way):
            way = _drivable_way(obj, out)
            if way is not None:
                out.ways.append(way)
    return out


def _drivable_way(obj: Any, out: OsmExtract) -> Way | None:
    """The way as a :class:`Way` when cars may use it; records its node locations."""
    tags = {t.k: t.v for t in obj.tags}
    highway = tags.get("highway", "")
    if highway not in DRIVABLE or tags.get("access") in {"no", "private"}:
        return None
    refs: list[int] = []
    for node in obj.nodes:
        if not node.location.valid() or (refs and refs[-1] == node.ref):
            continue  # unknown location, or a repeated node (zero-length hop)
        refs.append(node.ref)
        out.node_lat[node.ref] = node.location.lat
        out.node_lon[node.ref] = node.location.lon
    if len(refs) < 2:
        return None
    speed = parse_maxspeed(tags.get("maxspeed")) or DEFAULT_SPEED_KPH[highway]
    return Way(obj.id, tuple(refs), highway, direction_of(tags), speed, tags.get("name"))
