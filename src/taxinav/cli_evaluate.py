"""``taxinav evaluate``: the guidance evaluation protocol, as one command."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from taxinav.settings import get_settings

console = Console(soft_wrap=True)


def evaluate(
    start: Annotated[str, typer.Option(help="First evaluated day, local date YYYY-MM-DD")],
    days: Annotated[int, typer.Option(min=1, help="Days of the window")] = 4,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per day")] = 3,
    share: Annotated[float, typer.Option(min=0.01, max=0.99, help="Guided share")] = 0.2,
    bound_days: Annotated[
        int | None, typer.Option(min=1, help="Days for the bounds and the leak ablation")
    ] = None,
    bound_seeds: Annotated[int, typer.Option(min=1)] = 1,
    grid_day: Annotated[str | None, typer.Option(help="Day of the robustness grid")] = None,
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

    first, grid = _date("--start", start), _date("--grid-day", grid_day) if grid_day else None
    chosen = tuple(p.strip() for p in parts.split(","))
    if not set(chosen) <= {"main", "bounds", "grid"}:
        _fail(f"--parts {parts!r}: choose from main, bounds, grid")
    settings = get_settings()
    if not settings.warehouse_path.exists():
        _fail(f"no warehouse at {settings.warehouse_path}: run `make demo` first")
    protocol = Protocol(first, days, seeds, share, bound_days, bound_seeds, grid, grid_seeds,
                        chosen)  # fmt: skip
    try:
        preflight(settings, protocol)
    except (LookupError, ValueError) as exc:
        _fail(str(exc))
    n = len(protocol.tasks(settings))
    with progress(console, n, f"{n} paired runs on {workers} processes") as step:
        try:
            result = evaluate(settings, protocol, workers, json_out, lambda r: step(run_line(r)))
        except (LookupError, ValueError, duckdb.Error) as exc:
            _fail(str(exc))
            return
    from taxinav.guidance.evaluation_report import markdown

    console.print(markdown(result))
    console.print(f"report: {settings.reports_dir / 'evaluate' / 'evaluation.md'}")
    if result.failed():
        console.print(f"[red]{len(result.failed())} target(s) missed[/red]")


def _date(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(f"{option} {text!r} is not a date (YYYY-MM-DD)")
        raise


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=1)
