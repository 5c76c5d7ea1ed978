"""``taxinav evaluate``: the guidance evaluation protocol, as one command."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from taxinav.cli.common import console, date_option, fail
from taxinav.settings import get_settings

PARTS = ("main", "bounds", "grid")


def evaluate(
    start: Annotated[date, date_option(help="First evaluated day, local date YYYY-MM-DD")],
    days: Annotated[int, typer.Option(min=1, help="Days of the window")] = 4,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per day")] = 3,
    share: Annotated[float, typer.Option(min=0.01, max=0.99, help="Guided share")] = 0.2,
    bound_days: Annotated[
        int | None, typer.Option(min=1, help="Days for the bounds and the leak ablation")
    ] = None,
    bound_seeds: Annotated[int, typer.Option(min=1)] = 1,
    grid_day: Annotated[date | None, date_option(help="Day of the robustness grid")] = None,
    grid_seeds: Annotated[int, typer.Option(min=1)] = 1,
    workers: Annotated[int, typer.Option(min=1, help="Parallel simulation processes")] = 2,
    parts: Annotated[
        str, typer.Option(help="Comma-separated: main (always), bounds, grid")
    ] = "main,bounds,grid",
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write JSON here.")] = None,
) -> None:
    """Judge guidance in paired simulation runs (closed loop) over days × seeds: 20 % guided,
    heatmap, whole-fleet policies, bounds, leak ablation, robustness grid."""
    import duckdb

    from taxinav.console import progress
    from taxinav.guidance.evaluate import Protocol, evaluate, preflight, run_line

    chosen = tuple(p.strip() for p in parts.split(","))
    if not set(chosen) <= set(PARTS):
        fail(f"--parts {parts!r}: choose from {', '.join(PARTS)}")
    settings = get_settings()
    if not settings.warehouse_path.exists():
        fail(f"no warehouse at {settings.warehouse_path}: run `make demo` first")
    protocol = Protocol(start, days, seeds, share, bound_days, bound_seeds, grid_day, grid_seeds,
                        chosen)  # fmt: skip
    try:
        preflight(settings, protocol)
    except (LookupError, ValueError) as exc:
        fail(str(exc))
    n = len(protocol.tasks(settings))
    with progress(console, n, f"{n} paired runs on {workers} processes") as step:
        try:
            result = evaluate(settings, protocol, workers, json_out, lambda r: step(run_line(r)))
        except (LookupError, ValueError, duckdb.Error) as exc:
            fail(str(exc))
    from taxinav.guidance.evaluation_report import markdown

    console.print(markdown(result))
    console.print(f"report: {settings.reports_dir / 'evaluate' / 'evaluation.md'}")
    if result.failed():
        console.print(f"[red]{len(result.failed())} target(s) missed[/red]")
