"""Map matching GPS traces to our segments with Valhalla's Meili HMM matcher (pyvalhalla).

Valhalla builds routing tiles from the same OSM file, keeping OSM node ids, so each matched
Valhalla edge is identified by (way id, begin node); the next edge's begin node is this edge's
end, which pins down our directed segment. Valhalla actors are not thread-safe: each worker
process owns one.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import subprocess
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

_ACTOR: Any = None
_OPTIONS: dict[str, Any] = {}


@dataclass(frozen=True)
class Trace:
    """One vehicle's consecutive GPS fixes (seconds since the epoch)."""

    trace_id: str
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    ts: NDArray[np.int64]


@dataclass(frozen=True)
class MatchResult:
    """Valhalla's answer: matched edges and, per input point, the edge it lies on (-1: none)."""

    trace_id: str
    status: str  # matched | off_network | failed
    edges: list[tuple[int, int]] = field(default_factory=list)  # (way_id, begin OSM node)
    point_edge: list[int] = field(default_factory=list)
    message: str = ""


def _valhalla_bin(name: str) -> Path:
    import valhalla

    return Path(valhalla.PYVALHALLA_DIR) / "bin" / name


def tiles_fingerprint(osm_path: Path) -> str:
    digest = hashlib.sha256(osm_path.read_bytes()).hexdigest()[:16]
    return f"{digest}-pyvalhalla"


def build_tiles(osm_path: Path, out_dir: Path) -> Path:
    """Build Valhalla tiles for ``osm_path`` under ``out_dir`` (reused when up to date).

    Returns:
        The Valhalla configuration file to hand to :func:`match_traces`.
    """
    from valhalla import get_config

    out_dir.mkdir(parents=True, exist_ok=True)
    tile_dir = out_dir / "tiles"
    config_path = out_dir / "valhalla.json"
    stamp = out_dir / "fingerprint"
    fingerprint = tiles_fingerprint(osm_path)
    if config_path.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return config_path
    tile_dir.mkdir(exist_ok=True)
    config = get_config(tile_extract="", tile_dir=tile_dir, verbose=False)
    config["mjolnir"]["keep_osm_node_ids"] = True
    for key in (
        "traffic_extract",
        "admin",
        "landmarks",
        "timezone",
        "transit_dir",
        "transit_feeds_dir",
    ):
        config["mjolnir"][key] = ""
    config_path.write_text(json.dumps(config, indent=1))
    proc = subprocess.run(
        [str(_valhalla_bin("valhalla_build_tiles")), "-c", str(config_path), str(osm_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"valhalla_build_tiles failed:\n{proc.stderr[-2000:]}")
    stamp.write_text(fingerprint)
    return config_path


def _init_worker(config_path: str, options: dict[str, Any]) -> None:
    global _ACTOR, _OPTIONS
    from valhalla import Actor

    os.environ.setdefault("VALHALLA_LOG_LEVEL", "error")
    _ACTOR = Actor(config_path)
    _OPTIONS = options


def _request(trace: Trace) -> dict[str, Any]:
    return {
        "shape": [
            {"lat": float(a), "lon": float(b), "time": int(t)}
            for a, b, t in zip(trace.lat, trace.lon, trace.ts, strict=True)
        ],
        "costing": "auto",
        "shape_match": "map_snap",
        "trace_options": dict(_OPTIONS),
        "filters": {
            "attributes": [
                "edge.way_id",
                "edge.begin_osm_node_id",
                "matched.edge_index",
                "matched.type",
            ],
            "action": "include",
        },
    }


def _match_one(trace: Trace) -> MatchResult:
    try:
        answer = _ACTOR.trace_attributes(_request(trace))
    except Exception as exc:  # Valhalla signals every failure as a RuntimeError-like error.
        text = str(exc)
        status = "off_network" if "No suitable edges" in text or "171" in text else "failed"
        return MatchResult(trace.trace_id, status, message=text[:200])
    edges = [(int(e["way_id"]), int(e.get("node_id", -1))) for e in answer.get("edges", [])]
    point_edge = [
        int(p["edge_index"]) if p.get("type") != "unmatched" and "edge_index" in p else -1
        for p in answer.get("matched_points", [])
    ]
    # Valhalla marks "no edge" with a huge sentinel index.
    point_edge = [i if 0 <= i < len(edges) else -1 for i in point_edge]
    return MatchResult(trace.trace_id, "matched", edges, point_edge)


def match_traces(
    config_path: Path,
    traces: Sequence[Trace],
    *,
    workers: int = 2,
    search_radius_m: float = 50.0,
    gps_accuracy_m: float = 10.0,
    on_done: Callable[[int], None] | None = None,
) -> Iterator[MatchResult]:
    """Match ``traces`` in input order, one Valhalla actor per worker process."""
    options = {"search_radius": search_radius_m, "gps_accuracy": gps_accuracy_m}
    if workers <= 1:
        _init_worker(str(config_path), options)
        for t in traces:
            yield _match_one(t)
            if on_done:
                on_done(len(t.lat))
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_worker, initargs=(str(config_path), options)
    ) as pool:
        for t, result in zip(traces, pool.map(_match_one, traces, chunksize=16), strict=True):
            yield result
            if on_done:
                on_done(len(t.lat))
