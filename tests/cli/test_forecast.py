"""``taxinav forecast``: bad dates, unit types and counts files are refused before any work.
(A backtest on a counts file runs end to end in tests/forecast/test_counts_file.py.)"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from taxinav.cli import app


def test_a_malformed_test_start_names_the_option(runner: CliRunner) -> None:
    result = runner.invoke(app, ["forecast", "tune", "--test-start", "May 26"])
    assert result.exit_code == 1
    assert result.output == "error: --test-start 'May 26' is not a date (YYYY-MM-DD)\n"


def test_an_unknown_unit_is_refused(runner: CliRunner) -> None:
    result = runner.invoke(app, ["forecast", "backtest", "--unit", "hexagon"])
    assert result.exit_code != 0
    assert "hexagon" in result.output


def test_a_missing_counts_file_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["forecast", "backtest", "--counts", str(tmp_path / "c.csv")])
    assert result.exit_code == 1
    assert "c.csv does not exist" in result.output
    assert "Traceback" not in result.output
