"""Synthetic cities: a street-grid road network and a taxi fleet's telemetry, made to size.

Public API of the ``synth`` domain: ``make_city`` writes a whole city into a folder (the OSM PBF,
one generic-telemetry CSV per day and ``city.json``); its parts are the network
(``grid_city``, ``write_pbf``), the demand field (``demand_field``, ``hour_of_week_profile``) and
the fleet (``write_telemetry``); ``cached_profile`` reads the hour-of-week profile of the real San
Francisco pickups and ``cached_spatial`` their density map. Every random choice comes from the
``seed`` argument.
"""

from taxinav.synth.city import (
    ENV_FILE,
    MANIFEST,
    OSM_FILE,
    TELEMETRY_DIR,
    SynthReport,
    city_settings,
    make_city,
    zone,
)
from taxinav.synth.demand import DemandField, demand_field, hour_of_week_profile
from taxinav.synth.network import (
    MIN_SEGMENTS,
    City,
    count_segments,
    grid_city,
    grid_size,
    write_pbf,
)
from taxinav.synth.sf_profile import (
    cached_profile,
    cached_spatial,
    profile_from_cabspotting,
    spatial_from_cabspotting,
)
from taxinav.synth.telemetry import TelemetryReport, simulated_hours, write_telemetry

__all__ = [
    "ENV_FILE",
    "MANIFEST",
    "MIN_SEGMENTS",
    "OSM_FILE",
    "TELEMETRY_DIR",
    "City",
    "DemandField",
    "SynthReport",
    "TelemetryReport",
    "cached_profile",
    "cached_spatial",
    "city_settings",
    "count_segments",
    "demand_field",
    "grid_city",
    "grid_size",
    "hour_of_week_profile",
    "make_city",
    "profile_from_cabspotting",
    "spatial_from_cabspotting",
    "simulated_hours",
    "write_pbf",
    "write_telemetry",
    "zone",
]
