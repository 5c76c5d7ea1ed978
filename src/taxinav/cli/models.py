"""``taxinav model …`` and ``taxinav tracking …``: the model registry and experiment tracking."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from taxinav.cli.common import Unit, UnitOption, console, fail
from taxinav.settings import get_settings

if TYPE_CHECKING:
    from taxinav.mlops.registry import Registry

model_app = typer.Typer(help="The model registry: champion and challenger per unit type.")
tracking_app = typer.Typer(help="Experiment tracking (MLflow).")


def _registry() -> Registry:
    from taxinav.mlops.registry import Registry

    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    return Registry.from_settings(settings)


@model_app.command("list")
def model_list(unit: UnitOption = Unit.road) -> None:
    """Registered versions with their aliases and gate decisions."""
    try:
        rows = _registry().versions(unit.value)
    except LookupError as exc:
        fail(str(exc))
    for r in rows:
        console.print(f"v{r['version']}  {','.join(r['aliases']) or '-':<20} "
                      f"{r['decision'] or '-':<9} run {r['run_id']}")  # fmt: skip


@model_app.command("promote")
def model_promote(version: str, unit: UnitOption = Unit.road) -> None:
    """Make VERSION the champion (recorded)."""
    try:
        _registry().promote(unit.value, version)
    except LookupError as exc:
        fail(str(exc))
    console.print(f"taxinav-{unit.value} champion → v{version}")


@model_app.command("rollback")
def model_rollback(unit: UnitOption = Unit.road) -> None:
    """Champion back to the previous champion (recorded)."""
    try:
        version = _registry().rollback(unit.value)
    except LookupError as exc:
        fail(str(exc))
    console.print(f"taxinav-{unit.value} champion rolled back to v{version}")


@model_app.command("train")
def model_train(
    unit: UnitOption = Unit.road,
    test_days: Annotated[int, typer.Option(min=1, help="Days held out for the test.")] = 7,
) -> None:
    """Retrain, gate and backtest the model of UNIT as its own job: a separate process whose
    memory is bounded by TAXINAV_MLOPS__JOB_MEMORY_GIB and recorded with the MLflow run."""
    from taxinav.demo.tables import print_backtest
    from taxinav.mlops.job import TrainingJobError, launch_training
    from taxinav.warehouse import publish_reader

    settings = get_settings()
    with console.status(f"training job for {unit.value} …"):
        try:
            out = launch_training(settings, unit.value, test_days)
        except TrainingJobError as exc:
            fail(str(exc))
    publish_reader(settings)
    print_backtest(console, out)
    job = out["job"]
    console.print(f"job: process {job['pid']}, {job['seconds']:.0f} s, peak "
                  f"{job['peak_rss_gib']:.2f} GiB (bound "
                  f"{settings.mlops.job_memory_gib:g} GiB)")  # fmt: skip


@model_app.command("train-job", hidden=True)
def model_train_job(
    settings_file: Annotated[Path, typer.Option("--settings")],
    test_days: Annotated[int, typer.Option(min=1)],
    out: Annotated[Path, typer.Option()],
    unit: UnitOption = Unit.road,
) -> None:
    """The training job's own process (started by `taxinav model train`, the pipeline and the
    demo): settings from a file, the result as JSON to --out."""
    import json

    from pydantic import ValidationError

    from taxinav.mlops.job import train_in_this_process
    from taxinav.settings import Settings, with_secrets

    try:
        settings = with_secrets(Settings.model_validate_json(settings_file.read_text()))
    except (OSError, ValidationError) as exc:
        fail(f"{settings_file}: not a settings file ({type(exc).__name__})")
    try:
        result = train_in_this_process(settings, unit.value, test_days)
    except (LookupError, ValueError) as exc:
        fail(str(exc))
    out.write_text(json.dumps(result))


@tracking_app.command("ui")
def tracking_ui(port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 5000) -> None:
    """Start the MLflow UI on the local store, to compare runs side by side."""
    import os
    import subprocess
    import sys

    from taxinav.mlops.registry import tracking_uri

    settings = get_settings()
    uri = tracking_uri(settings.home, settings.mlops.tracking_uri)
    console.print(f"MLflow UI on http://127.0.0.1:{port} for {uri} (Ctrl-C stops it)")
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
           "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    # The MLflow server is not taxinav: it formats its own logs (taxinav.logs turned that off
    # in this process, to log MLflow's records like its own).
    env = {**os.environ, "MLFLOW_CONFIGURE_LOGGING": "true"}
    raise typer.Exit(subprocess.run(cmd, check=False, env=env).returncode)
