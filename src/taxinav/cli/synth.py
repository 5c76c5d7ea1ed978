"""``taxinav synth …``: synthetic cities, to run the ordinary commands at any scale."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from taxinav.cli.common import console, date_option, fail
from taxinav.settings import Settings, get_settings

if TYPE_CHECKING:
    from taxinav.synth.demand import FloatArray


class HourProfile(StrEnum):
    """Where the hour-of-week pickup profile (or the spatial density) comes from."""

    builtin = "builtin"
    sf = "sf"


app = typer.Typer(help="Synthetic cities: road network and fleet telemetry.", no_args_is_help=True)


@app.command("city")
def synth_city(
    segments: Annotated[
        int, typer.Option(help="Directed road segments of the network, at least 200.")
    ],
    taxis: Annotated[int, typer.Option(help="Taxis in the fleet, at least 1.")],
    days: Annotated[int, typer.Option(help="Local days of telemetry, at least 1.")],
    out: Annotated[
        Path, typer.Option(help="Folder to write: empty, new, or holding an earlier city.")
    ],
    seed: Annotated[int, typer.Option(help="Seed of every random choice, 0 or more.")] = 0,
    start_date: Annotated[
        date | None, date_option("--start-date", help="First local day (default 2008-05-17).")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(help="IANA time zone of the city (default TAXINAV_TIMEZONE)."),
    ] = None,
    lat: Annotated[float, typer.Option(help="Latitude of the city's centre, degrees.")] = 37.7749,
    lon: Annotated[
        float, typer.Option(help="Longitude of the city's centre, degrees.")
    ] = -122.4194,
    hour_profile: Annotated[
        HourProfile,
        typer.Option(
            help="builtin: a smooth shape; sf: the real San Francisco pickups per hour of the "
            "week, read from TAXINAV_DATA_DIR/cabspotting-sf once and cached under TAXINAV_HOME."
        ),
    ] = HourProfile.builtin,
    spatial_profile: Annotated[
        HourProfile,
        typer.Option(
            help="builtin: a downtown core and four hotspots; sf: the density of the real San "
            "Francisco pickups stretched over the city, read like --hour-profile sf."
        ),
    ] = HourProfile.builtin,
) -> None:
    """Write a street-grid city of about --segments directed segments and the telemetry of
    --taxis taxis over --days days into --out: osm/city.osm.pbf, telemetry/DATE.csv per day
    (the generic schema) and city.json. The same arguments write the same bytes."""
    from taxinav import synth
    from taxinav.console import progress

    if segments < synth.MIN_SEGMENTS:
        fail(f"--segments {segments}: a city needs at least {synth.MIN_SEGMENTS}")
    if taxis < 1 or days < 1:
        fail(f"--taxis and --days must be at least 1, not {taxis} and {days}")
    if seed < 0:
        fail(f"--seed {seed}: a seed is a whole number from 0")
    settings = get_settings()
    zone_name = timezone or settings.timezone
    synth.zone(zone_name)  # an unknown zone ends here, before anything is written
    start = start_date or date(2008, 5, 17)
    profile = spatial = None
    if hour_profile is HourProfile.sf:
        profile = (
            "cabspotting-sf",
            _from_sf(
                settings, "sf_hour_of_week.json", synth.cached_profile, "San Francisco pickups"
            ),
        )
    if spatial_profile is HourProfile.sf:
        spatial = (
            "cabspotting-sf",
            _from_sf(
                settings, "sf_pickup_density.json", synth.cached_spatial, "San Francisco pickup map"
            ),
        )
    hours = synth.simulated_hours(start, days, synth.zone(zone_name))
    with progress(console, hours + 1, "synthetic city") as step:
        report = synth.make_city(
            out,
            segments,
            taxis,
            days,
            seed,
            start,
            zone_name,
            (lat, lon),
            profile,
            step,
            spatial,
        )
    city, tel = report.city, report.telemetry
    console.print(
        f"network: {city.segments:,} directed segments ({city.rows}×{city.cols} grid, "
        f"{len(city.ways):,} ways, {city.n_nodes:,} nodes) → {report.osm_file}",
        markup=False,
    )
    console.print(
        f"telemetry: {tel.fixes:,} fixes and {tel.pickups:,} pickups of {taxis:,} taxis over "
        f"{days} day(s) in {tel.seconds:.1f} s ({tel.fixes_per_second:,.0f} fixes/s) → "
        f"{out / synth.TELEMETRY_DIR} ({len(tel.files)} file(s))",
        markup=False,
    )
    console.print(f"description → {report.manifest}", markup=False)
    console.print(
        f"use it: set -a; . {out / synth.ENV_FILE}; set +a  (then taxinav demo, taxinav "
        f"pipeline run, … read the city)",
        markup=False,
    )


def _from_sf(settings: Settings, name: str, read: Callable[..., FloatArray],
             what: str) -> FloatArray:  # fmt: skip
    """A profile of the real San Francisco pickups: cached under ``<home>/synth/<name>``, or
    read from the cabspotting files with a progress bar."""
    from taxinav.console import progress
    from taxinav.ingest import list_cabspotting_files

    cache = settings.home / "synth" / name
    files = [] if cache.is_file() else list_cabspotting_files(settings.cabspotting_dir)
    with progress(console, len(files), what) as step:
        return read(settings.cabspotting_dir, cache, progress=step)
