"""The command line lists its commands and fails clearly on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from taxinav.cli import app
from taxinav.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXINAV_HOME", str(tmp_path / "var"))
    get_settings.cache_clear()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("ingest", "roads", "demo", "settings"):
        assert command in result.output


def test_missing_directory_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", "cabspotting", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "is not a directory" in result.output


def test_a_bad_file_is_rejected_with_file_and_line_and_others_still_load(
    tmp_path: Path,
) -> None:
    good = tmp_path / "good.csv"
    good.write_text("vehicle_id,ts,lat,lon,occupied\ncab1,1211033530,37.7,-122.4,1\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,when\n1,2\n")
    result = runner.invoke(app, ["ingest", "telemetry", str(good), str(bad)])
    assert result.exit_code == 1
    assert "bad.csv:1: missing column(s)" in result.output
    assert "loaded 1" in result.output


def test_matching_without_a_network_explains_what_to_run() -> None:
    result = runner.invoke(app, ["roads", "match"])
    assert result.exit_code == 1
    assert "taxinav roads load" in result.output
