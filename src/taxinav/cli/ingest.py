"""``taxinav ingest …``: load vehicle telemetry into the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from taxinav.cli.common import console, fail, writer
from taxinav.settings import get_settings

app = typer.Typer(help="Load vehicle telemetry into the warehouse.", no_args_is_help=True)


def _ingest_summary(report: object) -> None:
    from taxinav.ingest import IngestReport

    assert isinstance(report, IngestReport)
    c = report.counts
    console.print(
        f"files {report.files} ({report.empty_files} empty), rows read {c.rows_read:,}, "
        f"loaded {c.loaded:,}, "
        f"already loaded {c.already_loaded:,}, duplicates {c.duplicates:,}, "
        f"in {report.seconds:.1f} s"
    )
    for reason, n in sorted(report.quarantined.items(), key=lambda kv: -kv[1]):
        console.print(f"  quarantined {reason}: {n:,}")
    for err in report.errors:
        console.print(f"[red]rejected file[/red] {err}")
    if report.errors:
        raise typer.Exit(code=1)


@app.command("cabspotting")
def ingest_cabspotting(
    directory: Annotated[Path, typer.Argument(help="Folder of new_<cab>.txt[.gz] files.")],
) -> None:
    """Load a folder in the original cabspotting layout."""
    from taxinav.demo.batch import ingest_with_progress as run

    settings = get_settings()
    if not directory.is_dir():
        fail(f"{directory} is not a directory")
    with writer(settings) as con:
        _ingest_summary(run(con, settings, directory, console))


@app.command("telemetry")
def ingest_telemetry(
    files: Annotated[list[Path], typer.Argument(help="CSV (header) or Parquet files.")],
) -> None:
    """Load files of the generic schema: vehicle_id, ts, lat, lon, occupied."""
    from taxinav import ingest

    settings = get_settings()
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        fail(f"no such file(s): {', '.join(missing)}")
    rules = ingest.Rules.default(settings.ingest.min_valid_year, settings.ingest.max_future_days)
    with writer(settings) as con:
        report = ingest.ingest_files(
            con,
            files,
            "generic",
            rules,
            workers=settings.ingest.workers,
            max_speed_kmh=settings.ingest.max_speed_kmh,
            jump_rounds=settings.ingest.jump_check_rounds,
        )
        _ingest_summary(report)


@app.command("derive")
def ingest_derive() -> None:
    """Rebuild trips and vacant spells from the loaded telemetry."""
    from taxinav import ingest

    settings = get_settings()
    with writer(settings) as con:
        counts = ingest.derive_trips_and_spells(con, settings.ingest.gap_limit_min)
        console.print(counts)
