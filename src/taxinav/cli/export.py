"""``taxinav export …``: the warehouse's road network, demand, forecasts and routes as files
GIS tools read (GeoParquet, GeoJSON, CSV with WKT geometry)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from taxinav.cli.common import UnitOption, console, date_option, fail, moment_option
from taxinav.settings import get_settings

if TYPE_CHECKING:
    import geopandas as gpd

app = typer.Typer(help="Export tables for GIS tools (GeoPandas, QGIS) and spreadsheets.",
                  no_args_is_help=True)  # fmt: skip


class Fmt(StrEnum):
    geoparquet = "geoparquet"
    geojson = "geojson"
    csv = "csv"


FormatOption = Annotated[Fmt, typer.Option("--format", help="geoparquet, geojson or csv")]
OutOption = Annotated[Path | None, typer.Option(
    "--out", help="File to write (default: <home>/exports/<name>.<suffix>).")]  # fmt: skip
DayOption = Annotated[date, date_option("--day", help="Local day of the fleet's city")]


def _write(frame: gpd.GeoDataFrame, name: str, fmt: Fmt, out: Path | None) -> None:
    from taxinav import exports

    settings = get_settings()
    path = out or settings.home / "exports" / f"{name}{exports.SUFFIX[fmt.value]}"
    exports.write(frame, path, fmt.value)
    console.print(f"{len(frame):,} rows → {path}")


def _read(build: Callable[[Any], gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    from taxinav.warehouse import open_reader

    settings = get_settings()
    if not settings.warehouse_path.exists():
        fail(f"no warehouse at {settings.warehouse_path}; run `make demo` or the pipeline first")
    con = open_reader(settings)
    try:
        return build(con)
    except LookupError as exc:
        fail(str(exc))
    finally:
        con.close()


@app.command("segments")
def export_segments(fmt: FormatOption = Fmt.geoparquet, out: OutOption = None) -> None:
    """Every directed road segment: id, OSM way, class, name, one-way, length, speed, H3
    cell and polyline."""
    from taxinav import exports

    _write(_read(exports.segments), "segments", fmt, out)


@app.command("demand")
def export_demand(day: DayOption, unit: UnitOption = "road",  # type: ignore[assignment]
                  fmt: FormatOption = Fmt.geoparquet, out: OutOption = None) -> None:  # fmt: skip
    """Pickups and vacant taxis per unit and 10-minute slot of a day."""
    from taxinav import exports
    from taxinav.calendar import Day

    d = Day.of(day, get_settings().tz)
    frame = _read(lambda con: exports.demand(con, unit.value, d.start, d.end))
    _write(frame, f"demand-{unit.value}-{day}", fmt, out)


@app.command("forecasts")
def export_forecasts(
    day: DayOption, unit: UnitOption = "road",  # type: ignore[assignment]
    model: Annotated[str, typer.Option(
        help="champion or base (the daily forecasts), or a backtest's model name")] = "champion",
    fmt: FormatOption = Fmt.geoparquet, out: OutOption = None,
) -> None:  # fmt: skip
    """A model's forecast pickups over the horizon from every unit × slot of a day, with the
    model version and whether the day was inside its training window."""
    from taxinav import exports
    from taxinav.calendar import Day

    d = Day.of(day, get_settings().tz)
    frame = _read(lambda con: exports.forecasts(con, unit.value, d.start, d.end, model))
    _write(frame, f"forecasts-{model}-{unit.value}-{day}", fmt, out)


@app.command("routes")
def export_routes(
    at: Annotated[datetime, moment_option(help="Moment, YYYY-MM-DDTHH:MM (city time if no "
                                               "offset)")],  # fmt: skip
    fmt: FormatOption = Fmt.geoparquet, out: OutOption = None,
) -> None:  # fmt: skip
    """The coordinated cruising route of every vacant taxi at a moment (as `taxinav
    recommend` plans them): vehicle, segments, chance of a passenger, polyline."""
    from taxinav import exports
    from taxinav.guidance.recommend import recommend_at
    from taxinav.roads import read_graph

    settings = get_settings()
    moment = at if at.tzinfo is not None else at.replace(tzinfo=settings.tz)

    def build(con: object) -> gpd.GeoDataFrame:
        rec = recommend_at(con, settings, moment)  # type: ignore[arg-type]
        graph = read_graph(con)  # type: ignore[arg-type]
        return exports.routes([r.geojson(graph) for r in rec.routes.values()])

    with console.status("planning routes for the vacant fleet …"):
        frame = _read(build)
    _write(frame, f"routes-{moment:%Y-%m-%dT%H%M}", fmt, out)
