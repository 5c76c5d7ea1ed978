"""``taxinav consume …``: the telemetry stream's consumers, each a process of its own."""

from __future__ import annotations

import asyncio
import signal

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

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await run(settings.stream, folder, stop)

    try:
        landed = asyncio.run(main())
    except (OSError, TimeoutError) as exc:  # no broker there
        fail(f"cannot reach {settings.stream.url}: {exc}")
    console.print(f"landed {landed:,} messages")
