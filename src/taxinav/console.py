"""Progress on long work, for every command and benchmark that shows it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@contextmanager
def progress(console: Console, total: int, title: str) -> Iterator[Callable[[str], None]]:
    """A bar of ``total`` steps; the yielded function advances it by one and says what was
    just done."""
    with Progress(console=console) as bar:
        job = bar.add_task(title, total=total)
        yield lambda done: bar.update(job, advance=1, description=done)


def progress_bar(console: Console) -> Progress:
    """The bar every long step of the CLI and the demo draws (tasks added by the caller)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
