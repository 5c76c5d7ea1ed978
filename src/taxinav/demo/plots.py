"""PNG figures for the ingest report: where pickups happen, how long searches last."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from taxinav.plotting import save, subplots
from taxinav.roads import RoadGraph


def pickups_map(con: duckdb.DuckDBPyConnection, graph: RoadGraph, path: Path) -> Path:
    """The road network coloured by matched pickups per km of segment."""
    from matplotlib.collections import LineCollection
    from matplotlib.colors import LogNorm

    counts = np.zeros(graph.n_segments)
    for seg, n in con.execute(
        "SELECT segment_id, count(*) FROM trip_end_matches "
        "WHERE end_kind = 'pickup' AND status = 'matched' GROUP BY ALL"
    ).fetchall():
        counts[int(seg)] = n
    density = counts / np.maximum(graph.length_m / 1000, 0.01)
    lines = [np.column_stack(graph.shape(s)[::-1]) for s in range(graph.n_segments)]
    order = np.argsort(density)  # hot segments drawn last, on top
    fig, ax = subplots(figsize=(10, 6.5), dpi=110)
    coll = LineCollection(
        [lines[i] for i in order],
        array=np.maximum(density[order], 1.0),
        cmap="inferno_r",
        norm=LogNorm(vmin=1, vmax=max(float(density.max()), 10.0)),
        linewidths=0.5 + 2.0 * (density[order] > np.percentile(density, 90)),
    )
    ax.add_collection(coll)
    ax.autoscale()
    ax.set_aspect(1 / np.cos(np.radians(float(graph.mid_lat.mean()))))
    ax.set_title("Pickups per km of road segment (whole period, both directions)")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    fig.colorbar(coll, ax=ax, label="pickups / km (log)")
    return save(fig, path)


def spell_durations(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """Distribution of time to find the next passenger (spells ending in a pickup)."""
    minutes = np.array(
        [
            r[0]
            for r in con.execute(
                "SELECT duration_s / 60 FROM vacant_spells WHERE end_reason = 'pickup'"
            ).fetchall()
        ]
    )
    fig, ax = subplots(figsize=(8, 4), dpi=110)
    ax.hist(np.clip(minutes, 0, 60), bins=60, range=(0, 60), color="#3b6ea5")
    if minutes.size:
        med = float(np.median(minutes))
        ax.axvline(med, color="black", linestyle="--", label=f"median {med:.1f} min")
        ax.legend()
    ax.set_xlabel("minutes from drop-off (or shift start) to the next pickup (60 = 60 or more)")
    ax.set_ylabel("vacant spells")
    ax.set_title("How long vacant taxis search for a passenger")
    return save(fig, path)
