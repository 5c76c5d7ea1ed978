"""``taxinav model …`` and ``taxinav tracking …``: the model registry and experiment tracking."""

from __future__ import annotations

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
