"""``taxinav roads …``: the road network and map matching."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from taxinav.cli.common import console, fail, writer
from taxinav.settings import get_settings

app = typer.Typer(help="Road network and map matching.", no_args_is_help=True)


@app.command("load")
def roads_load(
    osm_file: Annotated[Path | None, typer.Argument(help="OSM XML or PBF file.")] = None,
) -> None:
    """Build the directed segment graph from an OSM file and store it."""
    from taxinav.roads import load_roads

    settings = get_settings()
    path = osm_file or settings.osm_path
    if not path.is_file():
        fail(f"{path} does not exist")
    with writer(settings) as con:
        graph = load_roads(con, path, settings.roads.h3_resolution)
        console.print(
            f"{graph.n_segments:,} directed segments, {graph.n_nodes:,} nodes, "
            f"{int(graph.succ_indices.shape[0]):,} legal moves"
        )


@app.command("match")
def roads_match() -> None:
    """Snap pickups/drop-offs and map-match vacant spells to the stored graph."""
    from taxinav import roads
    from taxinav.demo.batch import match_spells

    settings = get_settings()
    with writer(settings) as con:
        try:
            graph = roads.read_graph(con)
        except LookupError as exc:
            fail(str(exc))
        console.print(
            roads.snap_trip_ends(
                con,
                graph,
                radius_m=settings.roads.match_radius_m,
                heading_weight_m=settings.roads.heading_weight_m,
            )
        )
        console.print(match_spells(con, settings, graph, settings.osm_path, console))
