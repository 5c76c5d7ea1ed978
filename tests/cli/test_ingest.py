"""``taxinav ingest``: bad input is an error, not a traceback; bad files do not stop good ones."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from taxinav.cli import app


def test_missing_directory_is_an_error_not_a_traceback(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", "cabspotting", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "is not a directory" in result.output
    assert "Traceback" not in result.output


def test_missing_files_are_named(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", "telemetry", str(tmp_path / "gone.csv")])
    assert result.exit_code == 1
    assert result.output.startswith("error: no such file(s): ")
    assert "gone.csv" in result.output


def test_a_bad_file_is_rejected_with_file_and_line_and_others_still_load(
    runner: CliRunner, tmp_path: Path
) -> None:
    good = tmp_path / "good.csv"
    good.write_text("vehicle_id,ts,lat,lon,occupied\ncab1,1211033530,37.7,-122.4,1\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,when\n1,2\n")
    result = runner.invoke(app, ["ingest", "telemetry", str(good), str(bad)])
    assert result.exit_code == 1
    assert "bad.csv:1: missing column(s)" in result.output
    assert "loaded 1" in result.output
