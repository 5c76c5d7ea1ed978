"""A whole synthetic city in a folder: road network, fleet telemetry and a description.

Layout of ``out`` (the layout of a data folder, so ``TAXINAV_DATA_DIR=out`` finds the network):

- ``osm/city.osm.pbf``: the street grid (``network.py``);
- ``telemetry/<YYYY-MM-DD>.csv``: one file of generic telemetry per local day (``telemetry.py``);
- ``city.json``: what was asked for and what was made: seed, segments asked and built, taxis,
  days, first and last date, time zone, centre, bounds, grid, the hour-of-week profile (its
  name and 168 values), files, fixes and pickups.

A folder is written only when it is empty or holds an earlier city (a ``city.json``), whose
telemetry files are replaced. The same arguments write byte-identical files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from taxinav.synth.demand import FloatArray, demand_field, hour_of_week_profile
from taxinav.synth.network import City, grid_city, write_pbf
from taxinav.synth.telemetry import TelemetryReport, write_telemetry

MANIFEST = "city.json"
ENV_FILE = "city.env"  # KEY=value lines of the settings that select the city
OSM_FILE = Path("osm") / "city.osm.pbf"
TELEMETRY_DIR = Path("telemetry")
_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.csv$")


@dataclass(frozen=True)
class SynthReport:
    """The files a synthetic city was written to, and the city itself."""

    city: City
    osm_file: Path
    manifest: Path
    telemetry: TelemetryReport


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; an unknown name is a ``ValueError``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise ValueError(f"{out} is not empty and holds no synthetic city ({MANIFEST})")
    old = out / TELEMETRY_DIR
    if old.is_dir():
        for path in old.iterdir():
            if _DAY_FILE.match(path.name):
                path.unlink()


def make_city(
    out: Path,
    segments: int,
    taxis: int,
    days: int,
    seed: int = 0,
    start: date = date(2008, 5, 17),
    timezone: str = "America/Los_Angeles",
    centre: tuple[float, float] = (37.7749, -122.4194),
    hour_profile: tuple[str, FloatArray] | None = None,
    progress: Callable[[str], None] | None = None,
    spatial_profile: tuple[str, FloatArray] | None = None,
) -> SynthReport:
    """Write a city of about ``segments`` directed segments and ``taxis`` taxis driving it for
    ``days`` local days from ``start`` into ``out`` (layout in the module docstring).

    ``hour_profile`` is a named hour-of-week pickup profile (168 values, mean 1; default the
    built-in shape of ``demand.py``, or e.g. ``("cabspotting-sf", cached_profile(...))``);
    ``spatial_profile`` a named density map stretched over the city (default the built-in core
    and hotspots; e.g. ``("cabspotting-sf", cached_spatial(...))``).
    ``progress`` is called after the network is written and once per simulated hour."""
    if taxis < 1 or days < 1:
        raise ValueError(f"a city needs at least one taxi and one day, not {taxis} and {days}")
    if seed < 0:
        raise ValueError(f"a seed is a whole number from 0, not {seed}")
    tz = zone(timezone)
    city = grid_city(segments, seed, centre_lat=centre[0], centre_lon=centre[1])
    _prepare(out)
    osm_file = out / OSM_FILE
    write_pbf(city, osm_file)
    if progress is not None:
        progress(f"network: {city.segments:,} segments")
    space, density = spatial_profile or ("built-in", None)
    field = demand_field(city.node_x, city.node_y, seed, density)
    name, profile = hour_profile or ("built-in", hour_of_week_profile())
    report = write_telemetry(
        city, field, taxis, days, start, tz, seed, out / TELEMETRY_DIR, profile, progress
    )
    bounds = {k: round(v, 7) for k, v in city.bounds().items()}
    manifest = {
        "generator": "taxinav synth city",
        "seed": seed,
        "segments_requested": segments,
        "segments": city.segments,
        "taxis": taxis,
        "days": days,
        "first_date": start.isoformat(),
        "last_date": (start + timedelta(days=days - 1)).isoformat(),
        "timezone": timezone,
        "centre": {"lat": centre[0], "lon": centre[1]},
        "bounds": bounds,
        "grid": {"rows": city.rows, "cols": city.cols, "block_m": city.block_m},
        "osm_file": OSM_FILE.as_posix(),
        "telemetry": [p.relative_to(out).as_posix() for p in report.files],
        "hour_of_week_profile": name,
        "hour_of_week": [round(float(v), 4) for v in profile],
        "spatial_profile": space,
        "fixes": report.fixes,
        "pickups": report.pickups,
    }
    path = out / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    env = city_settings(out, timezone, start)
    (out / ENV_FILE).write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    return SynthReport(city, osm_file, path, report)


def city_settings(out: Path, timezone: str, start: date) -> dict[str, str]:
    """The settings that point the ordinary commands at the city in ``out``."""
    return {
        "TAXINAV_DATA_DIR": str(out.resolve()),
        "TAXINAV_INGEST__SOURCE": "generic",
        "TAXINAV_TIMEZONE": timezone,
        "TAXINAV_PIPELINE__FIRST_DAY": start.isoformat(),
    }
