"""A hand-built OSM network with known answers.

        5 ◄──── 4          C: one-way 4→5→1       B: one-way 3→4
        │       ▲
        ▼       │
  7 ──► 1 ──── 2 ──── 3    A: two-way 1-2-3        E: one-way 7→1 (nothing reaches 7)
               │
               6           D: two-way dead end 2-6
  F: footway 3-6 (not drivable)

Legal moves (U-turn only where nothing else is possible):
  1→2: 2→3, 2→6     2→1: 1→2 (only way out of 1)   2→3: 3→4     3→2: 2→1, 2→6
  3→4: 4→1          4→1: 1→2                       2→6: 6→2 (dead end)
  6→2: 2→1, 2→3     7→1: 1→2
3→2 is unreachable (arriving at 3 one must continue to 4) and nothing reaches 7→1, so the
largest strongly connected part has the 7 other segments.
"""

from __future__ import annotations

from pathlib import Path

NODES = {
    1: (37.000, -122.000),
    2: (37.000, -121.999),
    3: (37.000, -121.998),
    4: (37.001, -121.998),
    5: (37.001, -122.000),
    6: (36.999, -121.999),
    7: (37.000, -122.001),
}
WAYS = {
    100: ([1, 2, 3], {"highway": "residential", "name": "A St", "maxspeed": "25 mph"}),
    101: ([3, 4], {"highway": "residential", "oneway": "yes"}),
    102: ([4, 5, 1], {"highway": "tertiary", "oneway": "yes", "maxspeed": "30"}),
    103: ([2, 6], {"highway": "residential"}),
    104: ([7, 1], {"highway": "residential", "oneway": "yes"}),
    105: ([3, 6], {"highway": "footway"}),
}
EXPECTED_SUCCESSORS = {
    (1, 2): {(2, 3), (2, 6)},
    (2, 1): {(1, 2)},
    (2, 3): {(3, 4)},
    (3, 4): {(4, 1)},
    (4, 1): {(1, 2)},
    (2, 6): {(6, 2)},
    (6, 2): {(2, 1), (2, 3)},
}


def write_osm(path: Path) -> Path:
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", '<osm version="0.6" generator="test">']
    for nid, (lat, lon) in NODES.items():
        lines.append(f'<node id="{nid}" lat="{lat}" lon="{lon}" version="1"/>')
    for wid, (refs, tags) in WAYS.items():
        lines.append(f'<way id="{wid}" version="1">')
        lines += [f'<nd ref="{r}"/>' for r in refs]
        lines += [f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("</way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines))
    return path
