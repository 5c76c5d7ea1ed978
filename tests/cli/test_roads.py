"""``taxinav roads``: missing inputs are explained."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from taxinav.cli import app


def test_matching_without_a_network_explains_what_to_run(runner: CliRunner) -> None:
    result = runner.invoke(app, ["roads", "match"])
    assert result.exit_code == 1
    assert "taxinav roads load" in result.output


def test_loading_a_missing_osm_file_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["roads", "load", str(tmp_path / "nope.osm")])
    assert result.exit_code == 1
    assert result.output == f"error: {tmp_path / 'nope.osm'} does not exist\n"
