"""Every CLI test runs against its own empty home (no warehouse, no registry), and leaves the
process's logging as it found it (the root callback configures it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from taxinav.settings import get_settings
from tests.logging_state import restored_logging

# What taxinav.logs.configure changes besides the root logger.


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXINAV_HOME", str(tmp_path / "var"))
    for name in ("TAXINAV_LOG_LEVEL", "TAXINAV_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _logging_restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from restored_logging(monkeypatch)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
