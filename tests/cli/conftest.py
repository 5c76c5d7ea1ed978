"""Every CLI test runs against its own empty home (no warehouse, no registry)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from taxinav.settings import get_settings


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXINAV_HOME", str(tmp_path / "var"))
    get_settings.cache_clear()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
