"""Simulation report: plots from an event log, and a Markdown summary of a run's JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from taxinav.plotting import save, subplots
from taxinav.sim.events import Kind


def vacant_durations(events: pa.Table) -> dict[int, np.ndarray]:
    """Minutes from becoming vacant (drop-off, shift start) to the next pickup, per group."""
    from taxinav.sim.kpi import _vacant_spells

    durations, _ = _vacant_spells(events)
    return {g: np.asarray(v) / 60 for g, v in durations.items()}


def plots(events: pa.Table, names: dict[int, str], mid_lat: np.ndarray, mid_lon: np.ndarray,
          out_dir: Path) -> list[Path]:  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = subplots(figsize=(8, 4), dpi=110)
    for g, minutes in sorted(vacant_durations(events).items()):
        ax.hist(
            np.clip(minutes, 0, 60),
            bins=60,
            range=(0, 60),
            histtype="step",
            lw=1.5,
            label=f"{names.get(g, g)} (median {np.median(minutes):.1f} min)",
        )
    ax.set_xlabel("minutes vacant before a pickup (60 = 60 or more)")
    ax.set_ylabel("spells")
    ax.set_title("Simulated time to find a passenger")
    ax.legend()
    paths.append(save(fig, out_dir / "vacant_time.png"))

    fig, ax = subplots(figsize=(8, 4), dpi=110)
    kind = events["kind"]
    hours = (events["t"].to_numpy() // 3600).astype(int)
    for k, colour in ((Kind.PICKUP, "#2a7"), (Kind.LOST, "#c33")):
        mask = np.asarray(pc.equal(kind, k.value))
        ax.bar(
            np.arange(24) + (0.2 if k == Kind.LOST else -0.2),
            np.bincount(hours[mask] % 24, minlength=24),
            width=0.4,
            color=colour,
            label="served" if k == Kind.PICKUP else "lost",
        )
    ax.set_xlabel("hour since the start of the simulated day")
    ax.set_ylabel("requests")
    ax.set_title("Served and lost requests by hour")
    ax.legend()
    paths.append(save(fig, out_dir / "served_lost_by_hour.png"))

    moves = np.asarray(events["segment"].to_numpy()[np.asarray(pc.equal(kind, Kind.MOVE.value))])
    visits = np.bincount(moves, minlength=mid_lat.shape[0])
    fig, ax = subplots(figsize=(9, 6), dpi=110)
    order = np.argsort(visits)
    sc = ax.scatter(mid_lon[order], mid_lat[order], c=np.log1p(visits[order]), s=3, cmap="viridis")
    ax.set_aspect(1 / np.cos(np.radians(float(mid_lat.mean()))))
    ax.set_title("Where vacant taxis cruised (segment entries, log scale)")
    fig.colorbar(sc, ax=ax, label="log(1 + entries)")
    paths.append(save(fig, out_dir / "cruising_map.png"))
    return paths


KPI_COLUMNS = (
    "served_share",
    "vacant_median_min",
    "vacant_mean_min",
    "occupancy",
    "empty_km_per_trip",
    "revenue_per_day",
)


def kpi_rows(summary: dict[str, Any]) -> list[list[str]]:
    """One row per group, ``mean [min–max]`` over days × seeds, then the real values."""
    rows = []
    for name, k in summary.items():
        if name == "real":
            continue
        rows.append(
            [
                name,
                *(f"{k[c]['mean']:.3f} [{k[c]['min']:.3f}–{k[c]['max']:.3f}]" for c in KPI_COLUMNS),
            ]
        )
    if "real" in summary:
        r = summary["real"]
        rows.append(
            ["real (same days, area)", "1.000", *(f"{r[c]:.3f}" for c in KPI_COLUMNS[1:4]), "", ""]
        )
    return rows


def describe_shares(shares: float | list[float] | tuple[float, ...] | dict[str, Any]) -> str:
    """Booking shares as text: one value, one per block of the day, or per day."""
    if isinstance(shares, dict):
        return "; ".join(f"{day}: {describe_shares(v)}" for day, v in shares.items())
    values = [shares] if isinstance(shares, float | int) else list(shares)
    if len(values) == 1:
        return f"{values[0]:.0%}"
    h = 24 // len(values)
    return ", ".join(f"{b * h:02d}–{b * h + h:02d} h {v:.0%}" for b, v in enumerate(values))


def markdown(out: dict[str, Any], figures: list[Path]) -> str:
    lines = [
        f"# Simulation from {out['start']}, {out['days']} day(s), {out['seeds']} seed(s)",
        "",
        "Demand is the replay of real map-matched pickups: only rides that real taxis served,"
        " where real drivers were. Unserved demand is not in the data, so the absolute served"
        " share is a lower bound on what any policy could earn and favours the real drivers'"
        " own spatial habits."
        f" Estimated from earlier days (vacant-taxi passes within reach, 1 − e^(−μτ)):"
        f" {out.get('estimated_unserved_share', float('nan')):.0%} of hails were never served;"
        f" demand boost {'on' if out.get('demand_boost') else 'off'}"
        " (`TAXINAV_SIM__DEMAND_BOOST`).",
        "",
        "Radio bookings, sent to the vacant taxi with the shortest drive, are a share of the"
        f" requests: {describe_shares(out.get('dispatch_share', 0.0))} (per 4-hour block from"
        " its demand pressure, calibrated on the days before the period unless"
        " `TAXINAV_SIM__DISPATCH_SHARE` is set).",
        "",
        "| group | " + " | ".join(KPI_COLUMNS) + " |",
        "|---" * (len(KPI_COLUMNS) + 1) + "|",
        *("| " + " | ".join(row) + " |" for row in kpi_rows(out["summary"])),
        "",
        *(f"![{f.stem}]({f.name})" for f in figures),
    ]
    return "\n".join(lines) + "\n"
