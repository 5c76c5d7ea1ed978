"""Every CLI test runs against its own empty home (no warehouse, no registry), and leaves the
process's logging as it found it (the root callback configures it)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from taxinav.settings import get_settings

# What taxinav.logs.configure changes besides the root logger.
ADOPTED = ("mlflow", "dagster", "alembic", "huey", "sqlalchemy.engine", "uvicorn.access")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXINAV_HOME", str(tmp_path / "var"))
    for name in ("TAXINAV_LOG_LEVEL", "TAXINAV_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _logging_restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
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


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
