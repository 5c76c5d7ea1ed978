"""A synthetic street-grid city sized to a number of directed road segments, written as OSM PBF.

The city is a grid of ``rows × cols`` intersections ``block_m`` apart around a centre:

- **Arterials**: every ``arterial_every``-th street and the outer ring, two-way; every second
  one ``highway=primary`` (35 mph), the others ``secondary`` (30 mph).
- **Residential streets** (25 mph) between them: every odd-numbered one is one-way
  (``oneway=yes``), the one-way streets alternating in direction (east/west for streets along
  a row, north/south along a column, like Manhattan); the others are two-way.
- **Irregular districts**: a *jittered* district whose intersections are moved by up to a fifth
  of a block and whose residential blocks bend (a shape node off the straight line, so its
  segments have three points), a *twisted* district whose intersections are rotated about a
  centre by an angle that fades to zero at its edge, and a two-way *diagonal avenue*
  (``secondary``) across the middle of the grid through the intersections on its diagonal.

Every street is cut into OSM ways of at most :data:`WAY_BLOCKS` blocks; ways meet only at
intersections, so :func:`taxinav.roads.graph.build_graph` splits them into one segment per block
and direction: a two-way block gives two directed segments, a one-way block one. The grid is
chosen (:func:`grid_size`) so that this count is as close as it can be to the requested number;
the grid is strongly connected (the outer ring is two-way), so the loader keeps every segment.

Node ids are ``1 … rows·cols`` for intersections (row-major, row 0 in the south) and then the
bend nodes; way ids count from 1. Nothing is random but the jitter and bend offsets, drawn from
``seed``: the same arguments give the same city and a byte-identical file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

METRES_PER_DEGREE = 111_320.0  # along a meridian; along a parallel times cos(latitude)
WAY_BLOCKS = 8  # longest OSM way, in blocks
_MPH = 1.609344
SPEED_MPH = {"primary": 35, "secondary": 30, "residential": 25}
MIN_SEGMENTS = 200


@dataclass(frozen=True)
class StreetWay:
    """One OSM way: its nodes in travel order (for one-way streets) and its tags."""

    way_id: int
    nodes: tuple[int, ...]  # node indices (0-based; the OSM id is index + 1)
    highway: str
    oneway: bool
    name: str


@dataclass(frozen=True)
class City:
    """The grid city: node positions, OSM ways and the directed links vehicles drive.

    ``node_x``/``node_y`` are metres east/north of the centre; ``link_*`` arrays describe each
    straight, directed piece between two consecutive nodes of a way (a bent block is two links);
    ``succ_*`` is the CSR of legal next links (no U-turn onto the reverse twin unless nothing
    else leaves the node).
    """

    rows: int
    cols: int
    block_m: float
    centre_lat: float
    centre_lon: float
    node_x: FloatArray
    node_y: FloatArray
    node_lat: FloatArray
    node_lon: FloatArray
    signals: IntArray  # node indices tagged highway=traffic_signals
    ways: tuple[StreetWay, ...]
    link_from: IntArray
    link_to: IntArray
    link_length_m: FloatArray
    link_speed_kph: FloatArray
    succ_indptr: IntArray
    succ_indices: IntArray
    segments: int  # directed intersection-to-intersection segments the loader will build

    @property
    def n_nodes(self) -> int:
        return int(self.node_x.shape[0])

    @property
    def n_links(self) -> int:
        return int(self.link_from.shape[0])

    def bounds(self) -> dict[str, float]:
        """South, west, north and east edges of the city in degrees."""
        return {
            "south": float(self.node_lat.min()),
            "west": float(self.node_lon.min()),
            "north": float(self.node_lat.max()),
            "east": float(self.node_lon.max()),
        }


# Street layout -------------------------------------------------------------------------------


def _street_kind(i: int, n: int, every: int) -> tuple[str, int]:
    """(highway, direction) of street ``i`` of ``n``: direction 0 two-way, +1/-1 one-way along
    increasing/decreasing index."""
    if i % every == 0 or i == n - 1:
        return ("primary" if i % (2 * every) == 0 else "secondary"), 0
    if i % 2 == 1:
        return "residential", 1 if (i // 2) % 2 == 0 else -1
    return "residential", 0


def _diagonal_blocks(rows: int, cols: int) -> int:
    """Blocks of the diagonal avenue: three-fifths of the shorter side (none in tiny grids)."""
    side = min(rows, cols)
    return (3 * side) // 5 if side >= 6 else 0


def count_segments(rows: int, cols: int, arterial_every: int) -> int:
    """Directed segments of a ``rows × cols`` grid: one per block and allowed direction."""
    row_dirs = sum(1 if _street_kind(r, rows, arterial_every)[1] else 2 for r in range(rows))
    col_dirs = sum(1 if _street_kind(c, cols, arterial_every)[1] else 2 for c in range(cols))
    return (cols - 1) * row_dirs + (rows - 1) * col_dirs + 2 * _diagonal_blocks(rows, cols)


def grid_size(segments: int, arterial_every: int = 5) -> tuple[int, int]:
    """(rows, cols) of the near-square grid whose segment count is closest to ``segments``."""
    if segments < MIN_SEGMENTS:
        raise ValueError(f"a city needs at least {MIN_SEGMENTS} segments, not {segments}")
    # a node has 2 blocks (east and north), each of 1.5 to 2 directions: 3 to 4 segments
    low, high = math.floor(math.sqrt(segments / 4.2)), math.ceil(math.sqrt(segments / 2.8))
    best: tuple[int, int, int] | None = None
    for rows in range(max(4, low), max(4, high) + 1):
        for cols in range(max(4, rows - 2), rows + 3):
            miss = abs(count_segments(rows, cols, arterial_every) - segments)
            if best is None or miss < best[0]:
                best = (miss, rows, cols)
    assert best is not None
    return best[1], best[2]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# Geometry ------------------------------------------------------------------------------------


def _positions(
    rows: int, cols: int, block_m: float, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Intersection x, y (metres from the centre) and which lie in the jittered district."""
    r, c = np.divmod(np.arange(rows * cols, dtype=np.int64), cols)
    x = (c - (cols - 1) / 2) * block_m
    y = (r - (rows - 1) / 2) * block_m
    # jittered district: the south-west quarter's middle, away from the outer ring
    jitter = (
        (r >= round(0.1 * rows) + 1)
        & (r <= round(0.4 * rows))
        & (c >= round(0.1 * cols) + 1)
        & (c <= round(0.4 * cols))
    )
    offsets = rng.uniform(-0.2, 0.2, size=(2, rows * cols)) * block_m
    x = np.where(jitter, x + offsets[0], x)
    y = np.where(jitter, y + offsets[1], y)
    # twisted district: centred in the north-east quarter, rotation fading to zero at its rim
    cx, cy = 0.25 * (cols - 1) * block_m, 0.25 * (rows - 1) * block_m
    radius = 0.2 * min(rows - 1, cols - 1) * block_m
    dx, dy = x - cx, y - cy
    dist = np.hypot(dx, dy)
    angle = np.where(dist < radius, math.radians(25.0) * (1 - dist / radius) ** 2, 0.0)
    x = cx + dx * np.cos(angle) - dy * np.sin(angle)
    y = cy + dx * np.sin(angle) + dy * np.cos(angle)
    return x, y, jitter


def to_lat_lon(
    x: FloatArray, y: FloatArray, centre_lat: float, centre_lon: float
) -> tuple[FloatArray, FloatArray]:
    """Degrees of points ``x`` metres east and ``y`` metres north of the centre."""
    lat = centre_lat + y / METRES_PER_DEGREE
    lon = centre_lon + x / (METRES_PER_DEGREE * math.cos(math.radians(centre_lat)))
    return lat, lon


# Building ------------------------------------------------------------------------------------


class _Builder:
    """Accumulates ways, bend nodes and links while the streets are laid out."""

    def __init__(self, x: FloatArray, y: FloatArray, block_m: float) -> None:
        self.x = list(x)
        self.y = list(y)
        self.block_m = block_m
        self.ways: list[StreetWay] = []
        self.links: list[tuple[int, int, float]] = []  # from node, to node, speed (km/h)

    def bend(self, a: int, b: int, rng: np.random.Generator) -> int:
        """A new node near the middle of block a–b, off the straight line."""
        mx, my = (self.x[a] + self.x[b]) / 2, (self.y[a] + self.y[b]) / 2
        dx, dy = self.x[b] - self.x[a], self.y[b] - self.y[a]
        norm = math.hypot(dx, dy) or 1.0
        off = float(rng.uniform(0.08, 0.15)) * self.block_m * float(rng.choice([-1.0, 1.0]))
        self.x.append(mx - dy / norm * off)
        self.y.append(my + dx / norm * off)
        return len(self.x) - 1

    def street(self, path: list[int], highway: str, direction: int, name: str) -> None:
        """Ways along ``path``: intersections in increasing index order, with the bend nodes of
        bent blocks between them stored as ``-(index + 1)``."""
        speed = SPEED_MPH[highway] * _MPH
        nodes = path if direction >= 0 else path[::-1]
        inter = [i for i, n in enumerate(nodes) if n >= 0]
        for start in range(0, len(inter) - 1, WAY_BLOCKS):
            stop = min(start + WAY_BLOCKS, len(inter) - 1)
            chunk = [abs(n) - 1 if n < 0 else n for n in nodes[inter[start] : inter[stop] + 1]]
            self.ways.append(
                StreetWay(len(self.ways) + 1, tuple(chunk), highway, direction != 0, name)
            )
            for a, b in zip(chunk[:-1], chunk[1:], strict=True):
                self.links.append((a, b, speed))
                if direction == 0:
                    self.links.append((b, a, speed))


def _successors(link_from: IntArray, link_to: IntArray, n_nodes: int) -> tuple[IntArray, IntArray]:
    """CSR of legal next links: those leaving the link's end, the U-turn only at a dead end."""
    order = np.argsort(link_from, kind="stable")
    starts = np.searchsorted(link_from[order], np.arange(n_nodes + 1))
    lists: list[IntArray] = []
    for i in range(link_from.shape[0]):
        out = order[starts[link_to[i]] : starts[link_to[i] + 1]]
        keep = out[link_to[out] != link_from[i]]
        lists.append(keep if keep.shape[0] else out)
    indptr = np.concatenate([[0], np.cumsum([s.shape[0] for s in lists])]).astype(np.int64)
    return indptr, np.concatenate(lists).astype(np.int64)


def grid_city(
    segments: int,
    seed: int,
    centre_lat: float = 37.7749,
    centre_lon: float = -122.4194,
    block_m: float = 120.0,
    arterial_every: int = 5,
) -> City:
    """The grid city closest to ``segments`` directed segments (see the module docstring)."""
    if not -80 < centre_lat < 80 or not -180 <= centre_lon <= 180:
        raise ValueError(f"centre ({centre_lat}, {centre_lon}) is not a city-sized place")
    if block_m <= 10 or arterial_every < 2:
        raise ValueError("block_m must exceed 10 m and arterial_every be at least 2")
    rows, cols = grid_size(segments, arterial_every)
    rng = np.random.default_rng([seed, 1])
    x, y, jitter = _positions(rows, cols, block_m, rng)
    build = _Builder(x, y, block_m)

    def node(r: int, c: int) -> int:
        return r * cols + c

    def path(cells: list[tuple[int, int]], highway: str) -> list[int]:
        """Intersections with bend nodes (as -(index + 1)) inside the jittered district."""
        out = [node(*cells[0])]
        for (r0, c0), (r1, c1) in zip(cells[:-1], cells[1:], strict=True):
            a, b = node(r0, c0), node(r1, c1)
            if highway == "residential" and jitter[a] and jitter[b]:
                out.append(-(build.bend(a, b, rng) + 1))
            out.append(b)
        return out

    for r in range(rows):
        highway, direction = _street_kind(r, rows, arterial_every)
        kind = "Boulevard" if highway != "residential" else "Street"
        cells = [(r, c) for c in range(cols)]
        build.street(path(cells, highway), highway, direction, f"{_ordinal(r + 1)} {kind}")
    for c in range(cols):
        highway, direction = _street_kind(c, cols, arterial_every)
        kind = "Parkway" if highway != "residential" else "Avenue"
        cells = [(r, c) for r in range(rows)]
        build.street(path(cells, highway), highway, direction, f"{_ordinal(c + 1)} {kind}")
    diagonal = _diagonal_blocks(rows, cols)
    if diagonal:
        r0, c0 = (rows - 1 - diagonal) // 2, (cols - 1 - diagonal) // 2
        cells = [(r0 + i, c0 + i) for i in range(diagonal + 1)]
        build.street(path(cells, "secondary"), "secondary", 0, "Diagonal Avenue")

    node_x, node_y = np.asarray(build.x), np.asarray(build.y)
    lat, lon = to_lat_lon(node_x, node_y, centre_lat, centre_lon)
    link_from = np.array([a for a, _, _ in build.links], dtype=np.int64)
    link_to = np.array([b for _, b, _ in build.links], dtype=np.int64)
    length = np.hypot(node_x[link_to] - node_x[link_from], node_y[link_to] - node_y[link_from])
    indptr, indices = _successors(link_from, link_to, node_x.shape[0])
    signal_rows = [
        r for r in range(rows) if _street_kind(r, rows, arterial_every)[0] != "residential"
    ]
    signal_cols = [
        c for c in range(cols) if _street_kind(c, cols, arterial_every)[0] != "residential"
    ]
    signals = np.array([node(r, c) for r in signal_rows for c in signal_cols], dtype=np.int64)
    return City(
        rows=rows,
        cols=cols,
        block_m=block_m,
        centre_lat=centre_lat,
        centre_lon=centre_lon,
        node_x=node_x,
        node_y=node_y,
        node_lat=lat,
        node_lon=lon,
        signals=np.sort(signals),
        ways=tuple(build.ways),
        link_from=link_from,
        link_to=link_to,
        link_length_m=length,
        link_speed_kph=np.array([s for _, _, s in build.links], dtype=np.float64),
        succ_indptr=indptr,
        succ_indices=indices,
        segments=count_segments(rows, cols, arterial_every),
    )


def write_pbf(city: City, path: Path) -> None:
    """Write ``city`` as an OSM PBF: nodes by id, then ways by id (an existing file is replaced).

    Nodes carry no version or timestamp, so the file depends on the city alone."""
    import osmium  # the C++ bindings load on first use, not at import

    path.parent.mkdir(parents=True, exist_ok=True)
    header = osmium.io.Header()
    header.set("generator", "taxinav synth city")
    b = city.bounds()
    header.add_box(osmium.osm.Box(osmium.osm.Location(b["west"], b["south"]),
                                  osmium.osm.Location(b["east"], b["north"])))  # fmt: skip
    signals = set(city.signals.tolist())
    with osmium.SimpleWriter(str(path), header=header, overwrite=True) as writer:
        for i in range(city.n_nodes):
            tags = {"highway": "traffic_signals"} if i in signals else {}
            location = (round(float(city.node_lon[i]), 7), round(float(city.node_lat[i]), 7))
            writer.add_node(osmium.osm.mutable.Node(id=i + 1, location=location, tags=tags))
        for way in city.ways:
            tags = {
                "highway": way.highway,
                "oneway": "yes" if way.oneway else "no",
                "maxspeed": f"{SPEED_MPH[way.highway]} mph",
                "name": way.name,
            }
            nodes = [n + 1 for n in way.nodes]
            writer.add_way(osmium.osm.mutable.Way(id=way.way_id, nodes=nodes, tags=tags))
