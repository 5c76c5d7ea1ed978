"""``taxinav serve`` and ``taxinav token``: the API and web map, live or replaying a real day,
and the bearer tokens that open it."""

from __future__ import annotations

import secrets
import threading
from datetime import date
from typing import Annotated, Any

import typer

from taxinav.cli.common import RoleOption, console, date_option, fail
from taxinav.settings import DEV_TOKENS, Settings, get_settings, token_hash


def token(
    role: RoleOption,
    name: Annotated[str, typer.Option(help="Who holds it (shown in logs)")],
    vehicle: Annotated[str | None, typer.Option(help="A driver's vehicle")] = None,
) -> None:
    """Make a new random token: give the secret to its holder, put the entry in settings."""
    if role == "driver" and not vehicle:
        fail("a driver token needs --vehicle")
    secret = secrets.token_urlsafe(32)
    entry = {"name": name, "role": role, "sha256": token_hash(secret), "vehicle_id": vehicle}
    console.print(f"secret (shown once): [bold]{secret}[/bold]")
    console.print_json(data=entry)


def serve(
    host: Annotated[str | None, typer.Option(help="Address (default from settings)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings)")] = None,
    day: Annotated[date | None, date_option(help="Local day to load (default today)")] = None,
    replay: Annotated[
        date | None, date_option(help="Feed this day's real telemetry in as if it were live")
    ] = None,
    speed: Annotated[float, typer.Option(help="Replay speed-up over real time")] = 60.0,
    guided_share: Annotated[
        float,
        typer.Option(
            help="Replay: share of the fleet replaced by simulated twins "
            "cruising on the recommended routes",
            min=0.0,
            max=1.0,
        ),
    ] = 0.0,
    access_log: Annotated[
        bool | None,
        typer.Option(
            "--access-log/--no-access-log",
            help="One log line per HTTP request (default: off, or TAXINAV_SERVE__ACCESS_LOG)",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=16,
            help="Ingest processes acknowledging telemetry side by "
            "side (default TAXINAV_SERVE__INGEST_WORKERS, 1)",
        ),
    ] = None,
) -> None:
    """Start the API and the web map (Ctrl-C stops it)."""
    settings = get_settings()
    if workers is not None:
        settings = settings.model_copy(update={
            "serve": settings.serve.model_copy(update={"ingest_workers": workers})})  # fmt: skip
    run_service(settings, host, port, replay or day, replay, speed, guided_share, access_log)


def run_service(settings: Settings, host: str | None, port: int | None, day: date | None,
                replay: date | None, speed: float, guided_share: float = 0.0,
                access_log: bool | None = None) -> None:  # fmt: skip
    """Serve until Ctrl-C; uvicorn logs through the root handler ``taxinav.logs`` set up."""
    import uvicorn

    from taxinav.serve.api import create_app
    from taxinav.serve.service import Service

    settings = replay_settings(settings, replay, guided_share)
    if not settings.warehouse_path.exists():
        fail(f"no warehouse at {settings.warehouse_path}; run `taxinav demo` first")
    try:
        service = Service(settings)
    except RuntimeError as exc:
        fail(str(exc))
    host = host or settings.serve.host
    port = port or settings.serve.port
    app = create_app(service, day)
    # log_config=None: uvicorn installs no handler of its own, and its loggers (uvicorn.error,
    # and uvicorn.access unless switched off) reach the root handler at the root's level.
    config = uvicorn.Config(app, host=host, port=port, log_config=None, log_level=None,
                            access_log=settings.serve.access_log if access_log is None
                            else access_log)  # fmt: skip
    server = uvicorn.Server(config)
    stop = threading.Event()
    if replay is not None:
        threading.Thread(target=_replay, daemon=True,
                         args=(settings, server, replay, speed, stop, host, port, guided_share),
                         ).start()  # fmt: skip
    _print_urls(settings, host, port)
    server.run()
    stop.set()


def replay_settings(settings: Settings, replay: date | None, guided_share: float) -> Settings:
    """A replay with simulated twins loads into its own landing store: the twins' fixes
    carry real vehicle ids but simulated positions, and must never reach the warehouse."""
    if replay is None or guided_share <= 0 or settings.serve.landing is not None:
        return settings
    landing = settings.home / "serve" / "replay_landing"
    serve = settings.serve.model_copy(update={"landing": landing})
    return settings.model_copy(update={"serve": serve})


def _print_urls(settings: Settings, host: str, port: int) -> None:
    base = f"http://{host}:{port}"
    console.print(f"taxinav service on [bold]{base}[/bold] (API docs {base}/docs)")
    ingest = settings.serve.ingest_port
    if ingest is not None and settings.serve.ingest_process:
        console.print(f"  telemetry gateways: http://{settings.serve.host}:{ingest}/v1/telemetry")
    if settings.serve.production:
        return
    dev = {role: (t, v) for t, (role, v) in DEV_TOKENS.items()}
    op, _ = dev["operator"]
    drv, vehicle = dev["driver"]
    console.print(f"  operator map: {base}/map/operator.html#token={op}")
    console.print(f"  driver map:   {base}/map/driver.html?vehicle={vehicle}#token={drv}")


def _replay(settings: Settings, server: Any, day: date, speed: float, stop: threading.Event,
            host: str, port: int, guided_share: float) -> None:  # fmt: skip
    import time

    import httpx

    from taxinav.serve.replay import day_fixes, feed

    while not server.started and not stop.is_set():
        time.sleep(0.2)
    fixes = day_fixes(settings, day)
    if guided_share > 0:
        from taxinav.serve.guided_replay import guided_replay

        console.print(f"simulating {day} with {guided_share:.0%} of the fleet on recommended "
                      "routes (the rest replays its real telemetry) …")  # fmt: skip
        twin = guided_replay(settings, day, guided_share, fixes)
        fixes = twin.fixes
        # Only the twins follow the routes: the service reads this at every plan.
        settings.serve.guided_vehicles = list(twin.guided)
        console.print(f"{len(twin.guided)} taxis are simulated twins following the routes "
                      f"(served share in the simulation {twin.served_share:.1%})")  # fmt: skip
    ingest = next(t for t, (role, _) in DEV_TOKENS.items() if role == "ingest")
    with httpx.Client(base_url=f"http://{host}:{port}", timeout=30,
                      headers={"Authorization": f"Bearer {ingest}"}) as client:  # fmt: skip

        def post(batch: list[dict[str, Any]]) -> int:
            if server.should_exit:  # SIGTERM or Ctrl-C: stop feeding, quietly
                stop.set()
                return 0
            try:
                return client.post("/v1/telemetry", json={"fixes": batch}).status_code
            except httpx.TransportError:
                if server.should_exit or stop.is_set():
                    stop.set()
                    return 0
                raise

        console.print(f"replaying {fixes.num_rows:,} fixes of {day} at {speed:g}× …")
        out = feed(fixes, post, speed, stop, max_items=settings.serve.max_batch_items)
    console.print(f"replay of {day} done: {out}")
