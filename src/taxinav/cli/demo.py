"""``taxinav demo`` and ``taxinav settings``: the whole batch then the service, and the
effective settings."""

from __future__ import annotations

from typing import Annotated

import typer

from taxinav.cli.common import console, fail
from taxinav.cli.serve import run_service
from taxinav.settings import get_settings


def demo(
    then_serve: Annotated[
        bool,
        typer.Option("--serve/--no-serve", help="Then replay the last day through the service."),
    ] = True,
) -> None:
    """Run the batch job on the configured data, reusing finished steps, and write the report;
    then start the service replaying the last day of the data (Ctrl-C stops it)."""
    from taxinav.demo import data_days, run_batch
    from taxinav.pipeline.runner import DagsterOrchestrator

    settings = get_settings()
    if not settings.telemetry_dir.is_dir():
        fail(
            f"no telemetry at {settings.telemetry_dir}; set TAXINAV_DATA_DIR (and "
            f"TAXINAV_INGEST__SOURCE for the generic layout)"
        )
    run_batch(settings, console, DagsterOrchestrator.for_settings(settings))
    if then_serve:
        _, last = data_days(settings)
        console.rule("[bold]live service (replay)")
        run_service(settings, None, None, last, last, 60.0, guided_share=0.2)


def show_settings() -> None:
    """Print the effective settings (after environment overrides)."""
    console.print_json(get_settings().model_dump_json())
