"""The ``taxinav`` command line: thin wrappers around the domains' functions.

One module per command group; ``common`` holds the console, the one error path (``fail``)
and the option types every command shares. Nothing outside this package imports it.

The root callback runs before every command: it reads the settings and configures logging
once (``taxinav.logs``; ``--log-level`` overrides ``TAXINAV_LOG_LEVEL``). Help texts are Rich
markup: a word in square brackets that looks like a style (``[start, end]``) would vanish, so
``tests/cli/test_help.py`` checks that every docstring and option help is shown whole."""

from __future__ import annotations

from importlib import metadata
from typing import Annotated

import typer

from taxinav import logs
from taxinav.cli import (
    consume,
    demo,
    evaluate,
    export,
    forecast,
    ingest,
    lab,
    models,
    pipeline,
    roads,
    serve,
    sim,
    synth,
)
from taxinav.cli.common import Group, LogLevelOption, console, load_settings

app = typer.Typer(
    cls=Group,
    help="taxinav: fleet telemetry → demand forecasts → cruising guidance.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,  # locals may hold tokens and secrets
)


def version() -> str:
    """The installed distribution's version, or the source tree's when not installed."""
    try:
        return metadata.version("taxinav")
    except metadata.PackageNotFoundError:
        from taxinav import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        console.print(f"taxinav {version()}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    log_level: LogLevelOption = None,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """taxinav: fleet telemetry → demand forecasts → cruising guidance."""
    settings = load_settings()
    if log_level is not None:  # the command line overrides the environment, for every reader
        settings.log_level = log_level
    logs.configure(settings.log_level, settings.log_format)


app.add_typer(ingest.app, name="ingest")
app.add_typer(roads.app, name="roads")
app.add_typer(forecast.app, name="forecast")
app.add_typer(models.model_app, name="model")
app.add_typer(models.tracking_app, name="tracking")
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(synth.app, name="synth")
app.add_typer(consume.app, name="consume")
app.add_typer(export.app, name="export")
app.command("serve")(serve.serve)
app.command("token")(serve.token)
app.command("evaluate")(evaluate.evaluate)
app.command("simulate")(sim.simulate)
app.command("recommend")(sim.recommend)
app.command("demo")(demo.demo)
app.command("lab")(lab.lab)
app.command("settings")(demo.show_settings)

__all__ = ["app", "version"]
