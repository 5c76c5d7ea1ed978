"""The root group's one error path: an expected failure of any command is one ``error:`` line
and exit code 1 (its traceback logged at DEBUG); a bug keeps its traceback."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from taxinav.cli import app
from taxinav.cli.common import Group, expected

probe = typer.Typer(cls=Group)


@probe.command("missing")
def _missing() -> None:
    raise LookupError("no road network in the warehouse;\n  run `taxinav roads load` first")


@probe.command("table")
def _table() -> None:
    duckdb.connect().execute("SELECT * FROM trips")


@probe.command("bug")
def _bug() -> None:
    raise KeyError("segment_id")


def test_an_expected_failure_is_one_line(runner: CliRunner) -> None:
    result = runner.invoke(probe, ["missing"])
    assert result.exit_code == 1
    assert (
        result.output == "error: no road network in the warehouse; run `taxinav roads load` first\n"
    )
    assert isinstance(result.exception, SystemExit)


def test_a_missing_table_is_one_line(runner: CliRunner) -> None:
    result = runner.invoke(probe, ["table"])
    assert result.exit_code == 1
    assert result.output.startswith("error: Catalog Error: Table with name trips does not exist")
    assert result.output.count("\n") == 1


def test_a_bug_is_not_hidden(runner: CliRunner) -> None:
    result = runner.invoke(probe, ["bug"])
    assert isinstance(result.exception, KeyError)  # raised on: Typer prints its traceback
    assert "error:" not in result.output


@pytest.mark.parametrize(
    ("exc", "is_expected"),
    [
        (LookupError("x"), True),
        (ValueError("x"), True),
        (FileNotFoundError("x"), True),
        (KeyError("x"), False),
        (IndexError("x"), False),
        (TypeError("x"), False),
        (RuntimeError("x"), False),
        (duckdb.CatalogException("x"), True),
    ],
)
def test_which_failures_are_expected(exc: Exception, is_expected: bool) -> None:
    assert expected(exc) is is_expected


def test_debug_shows_the_traceback_behind_the_line(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAXINAV_DATA_DIR", str(tmp_path))  # no OSM file there
    result = runner.invoke(app, ["--log-level", "DEBUG", "roads", "load"])
    assert result.exit_code == 1
    assert result.stdout.startswith("error: no OSM file under ")
    assert "DEBUG taxinav.cli Traceback (most recent call last):" in result.stderr
    assert "FileNotFoundError: no OSM file under" in result.stderr


def test_invalid_settings_are_one_line(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXINAV_LOG_FORMAT", "xml")
    result = runner.invoke(app, ["settings"])
    assert result.exit_code == 1
    assert result.output == (
        "error: invalid settings: TAXINAV_LOG_FORMAT: Input should be 'text' or 'json'\n"
    )
