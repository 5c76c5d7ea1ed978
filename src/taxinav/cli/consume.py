"""``taxinav consume …``: the telemetry stream's consumers, each a process of its own."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

from taxinav.cli.common import console, fail
from taxinav.settings import get_settings

app = typer.Typer(help="Consumers of the telemetry stream (NATS JetStream).",
                  no_args_is_help=True)  # fmt: skip


@app.command("landing")
def consume_landing() -> None:
    """Land the stream's fixes and ride events as the daily pipeline reads them (Parquet in
    the API's landing folder), resuming where the durable consumer stopped; Ctrl-C stops."""
    from taxinav.serve.stream import consume_landing as run

    settings = get_settings()
    if settings.stream.url is None:
        fail("no stream to consume: set TAXINAV_STREAM__URL (nats://host:port)")
    folder = settings.api_landing_dir
    folder.mkdir(parents=True, exist_ok=True)
    console.print(f"landing {settings.stream.name} from {settings.stream.url} into {folder}")

    landed = _until_stopped(lambda stop: run(settings.stream, folder, stop), settings.stream.url)
    console.print(f"landed {landed:,} messages")


@app.command("live")
def consume_live(
    folder: Annotated[Path | None, typer.Option(
        help="Where the checkpoint and the live view go (default <home>/live).")] = None,
    checkpoint_s: Annotated[float, typer.Option(
        min=0.1, help="Seconds between checkpoints (and acknowledgements): a restart "
        "applies at most this much again; each writes the whole state.")] = 10.0,
) -> None:  # fmt: skip
    """Keep the live state — vehicles and demand counts per H3 cell and road segment — from
    the stream, resuming from its last checkpoint; the live view is written to FOLDER
    (counts-h3/-road.parquet, vehicles.parquet); Ctrl-C stops after a last checkpoint."""
    from taxinav import roads
    from taxinav.features import Slotting
    from taxinav.features.sources import network_cells
    from taxinav.serve.live import LiveState
    from taxinav.serve.live_stream import consume_live as run
    from taxinav.warehouse import open_reader

    settings = get_settings()
    if settings.stream.url is None:
        fail("no stream to consume: set TAXINAV_STREAM__URL (nats://host:port)")
    if not settings.warehouse_path.exists():
        fail(f"no warehouse at {settings.warehouse_path}: the live state needs its road network")
    con = open_reader(settings)
    try:
        graph = roads.read_graph(con)
    finally:
        con.close()
    f, r = settings.forecast, settings.roads
    state = LiveState(graph, network_cells(graph.mid_lat, graph.mid_lon, f.h3_resolution),
                      f.h3_resolution, Slotting.of_forecast(f), settings.ingest.gap_limit_min * 60,
                      r.match_radius_m, r.heading_weight_m)  # fmt: skip
    out = folder or settings.home / "live"
    console.print(f"live state of {settings.stream.name} from {settings.stream.url} into {out}")
    applied = _until_stopped(
        lambda stop: run(settings.stream, state, out, checkpoint_s, stop), settings.stream.url
    )
    console.print(f"applied {applied:,} messages")


def _until_stopped(
    consumer: Callable[[asyncio.Event], Coroutine[Any, Any, int]], url: str | None
) -> int:
    """Run a consumer until SIGINT or SIGTERM; one line and exit 1 when the broker is not
    there."""

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await consumer(stop)

    try:
        return asyncio.run(main())
    except (OSError, TimeoutError) as exc:  # no broker there
        fail(f"cannot reach {url}: {str(exc) or type(exc).__name__}")
