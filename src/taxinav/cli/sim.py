"""``taxinav simulate`` and ``taxinav recommend``: cruising policies in the simulator, and the
routes guidance would give the vacant fleet at a moment."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from taxinav.cli.common import console, date_option, fail, moment_option, policy_option
from taxinav.settings import get_settings

if TYPE_CHECKING:
    from taxinav.guidance.experiment import SimulationResult


def simulate(
    start: Annotated[date, date_option(help="First simulated day, local date YYYY-MM-DD")],
    days: Annotated[int, typer.Option(min=1)] = 1,
    policy: Annotated[
        str,
        policy_option(
            help="random, historical, hotspot, heatmap, guided or guided-independent; guided "
            "may name its demand and competitor model: guided:stored, guided:oracle, "
            "guided:historical, guided:closed-loop:uniform"
        ),
    ] = "historical",
    share: Annotated[float, typer.Option(min=0, max=1, help="Share of taxis on --policy")] = 1.0,
    other: Annotated[
        str | None, policy_option(help="Policy of the other taxis, a --policy choice too")
    ] = None,
    seeds: Annotated[int, typer.Option(min=1)] = 1,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write KPIs here.")] = None,
) -> None:
    """Replay real demand and fleet presence with a cruising policy; report KPIs per group."""
    from taxinav.guidance import experiment as simulation
    from taxinav.warehouse import open_reader

    settings = get_settings()
    con = open_reader(settings)
    with console.status(f"simulating {days} day(s) × {seeds} seed(s) …"):
        try:
            out = simulation.simulate(con, settings, start, days, policy, share=share,
                                      other=other, seeds=seeds, json_out=json_out)  # fmt: skip
        except (LookupError, ValueError) as exc:  # e.g. a model trained on the simulated days
            fail(str(exc))
    print_sim(out)


def print_sim(sim: SimulationResult) -> None:
    from rich.table import Table

    from taxinav.sim.report import KPI_COLUMNS, kpi_rows

    table = Table(
        title=f"simulation from {sim.start.isoformat()}, {sim.days} day(s), "
        f"{sim.seeds} seed(s): mean [min–max]"
    )
    for c in ("group", *KPI_COLUMNS):
        table.add_column(c)
    for row in kpi_rows(sim.summary.to_json()):
        table.add_row(*row)
    console.print(table)
    for group, label in (sim.runs[0].demand or {}).items() if sim.runs else ():
        console.print(f"group {group} routed on: {label}")


def recommend(
    at: Annotated[
        datetime, moment_option(help="Moment, YYYY-MM-DDTHH:MM (city time if no offset)")
    ],
    geojson_out: Annotated[Path, typer.Option("--geojson", help="Write routes here.")],
    vehicle: Annotated[str | None, typer.Option(help="Only this vehicle's route")] = None,
) -> None:
    """Coordinated cruising routes for every vacant taxi at a moment, as GeoJSON."""
    import json

    from taxinav.guidance.recommend import geojson, recommend_at, route_map
    from taxinav.roads import read_graph
    from taxinav.warehouse import open_reader

    settings = get_settings()
    moment = at if at.tzinfo is not None else at.replace(tzinfo=settings.tz)
    con = open_reader(settings)
    with console.status("planning routes for the vacant fleet …"):
        try:
            rec = recommend_at(con, settings, moment)
        except LookupError as exc:
            fail(str(exc))
    if vehicle is not None:
        if vehicle not in rec.routes:
            fail(f"vehicle {vehicle!r} is not vacant (or not on the network) at {moment}")
        rec = dataclasses.replace(rec, routes={vehicle: rec.routes[vehicle]})
    graph = read_graph(con)
    out = geojson(rec, graph)
    geojson_out.parent.mkdir(parents=True, exist_ok=True)
    geojson_out.write_text(json.dumps(out))
    picture = route_map(rec, graph, geojson_out.with_suffix(".png"))
    p = out["properties"]
    console.print(
        f"{len(rec.routes)} route(s) for {rec.vacant} vacant taxi(s) on the network "
        f"({rec.unplaced} more vacant off it) in {rec.seconds:.2f} s; demand: "
        f"{rec.demand_source}; mean chance of a passenger within "
        f"{settings.routing.horizon_min:g} min: {p['mean_p_found']:.0%}; "
        f"rejected routes: {rec.rejected or 'none'} → {geojson_out}, {picture}"
    )
