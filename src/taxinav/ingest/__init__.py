"""Vehicle telemetry in: parse, validate, de-duplicate, load, derive trips and spells.

Public API of the ``ingest`` domain; other domains import only from here.
"""

from taxinav.ingest.cabspotting import list_files as list_cabspotting_files
from taxinav.ingest.cabspotting import read_file as read_cabspotting_file
from taxinav.ingest.errors import FileFormatError
from taxinav.ingest.jobs import ingest_directory, landed_days, list_source_files, telemetry_day
from taxinav.ingest.load import LoadCounts
from taxinav.ingest.service import IngestReport, SourceKind, ingest_files
from taxinav.ingest.trips import derive_day, derive_trips_and_spells
from taxinav.ingest.validate import Rules

__all__ = [
    "FileFormatError",
    "IngestReport",
    "LoadCounts",
    "Rules",
    "SourceKind",
    "derive_day",
    "derive_trips_and_spells",
    "ingest_directory",
    "ingest_files",
    "landed_days",
    "list_cabspotting_files",
    "list_source_files",
    "read_cabspotting_file",
    "telemetry_day",
]
