"""Tests that configure logging put the process's logging back as it was."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

ADOPTED = ("mlflow", "dagster", "alembic", "huey", "sqlalchemy.engine", "uvicorn.access")


def restored_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The root logger's and the adopted libraries' level, handlers and propagation are put
    back after the test."""
    monkeypatch.setenv("MLFLOW_CONFIGURE_LOGGING", "false")  # restored (unset) afterwards
    root = logging.getLogger()
    kept = root.level, list(root.handlers)
    loggers = {n: logging.getLogger(n) for n in ADOPTED}
    state = {n: (lg.level, lg.propagate, list(lg.handlers)) for n, lg in loggers.items()}
    yield
    root.setLevel(kept[0])
    root.handlers[:] = kept[1]
    for name, (level, propagate, handlers) in state.items():
        loggers[name].setLevel(level)
        loggers[name].propagate = propagate
        loggers[name].handlers[:] = handlers
    logging.captureWarnings(False)
