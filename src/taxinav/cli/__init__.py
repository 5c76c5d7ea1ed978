"""The ``taxinav`` command line: thin wrappers around the domains' functions.

One module per command group; ``common`` holds the console, the one error path (``fail``)
and the option types every command shares. Nothing outside this package imports it."""

from __future__ import annotations

import typer

from taxinav.cli import demo, evaluate, forecast, ingest, models, pipeline, roads, serve, sim

app = typer.Typer(
    help="taxinav: fleet telemetry → demand forecasts → cruising guidance.", no_args_is_help=True
)
app.add_typer(ingest.app, name="ingest")
app.add_typer(roads.app, name="roads")
app.add_typer(forecast.app, name="forecast")
app.add_typer(models.model_app, name="model")
app.add_typer(models.tracking_app, name="tracking")
app.add_typer(pipeline.app, name="pipeline")
app.command("serve")(serve.serve)
app.command("token")(serve.token)
app.command("evaluate")(evaluate.evaluate)
app.command("simulate")(sim.simulate)
app.command("recommend")(sim.recommend)
app.command("demo")(demo.demo)
app.command("settings")(demo.show_settings)

__all__ = ["app"]
