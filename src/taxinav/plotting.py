"""Figures for reports, built as matplotlib ``Figure`` objects: no pyplot state and no global
backend switch (a notebook's inline plots keep working), returned to the caller and saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure


def subplots(nrows: int = 1, ncols: int = 1, **figure: Any) -> tuple[Figure, Any]:
    """A new figure (``figsize``, ``dpi``, ...) and its axes, as ``pyplot.subplots`` gives."""
    fig = Figure(**figure)
    return fig, fig.subplots(nrows, ncols)


def save(fig: Figure, path: Path) -> Path:
    """Lay out and write ``fig`` (PNG by the suffix); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    return path
