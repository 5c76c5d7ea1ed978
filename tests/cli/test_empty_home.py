"""Every command in an empty home (and an empty data folder): it succeeds where nothing is
needed, and otherwise ends with exit code 1 and one ``error:`` line, never a traceback.

The commands are read from the app, so a new command is run here too: give it arguments in
``ARGS`` if it needs some, and list it in ``FINE_WHEN_EMPTY`` if an empty home is no error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from taxinav.cli import app
from taxinav.settings import get_settings

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) \S+ ")

# The least each command needs; {data} is the empty data folder, {tmp} a scratch folder.
ARGS: dict[tuple[str, ...], list[str]] = {
    ("ingest", "cabspotting"): ["{data}"],
    ("ingest", "telemetry"): ["{data}/fixes.csv"],
    ("forecast", "tune"): ["--unit", "h3", "--trials", "1"],
    ("forecast", "backtest"): ["--unit", "h3"],
    ("model", "promote"): ["1"],
    ("model", "train"): ["--unit", "h3"],
    ("model", "train-job"): [
        "--settings",
        "{tmp}/settings.json",
        "--unit",
        "h3",
        "--test-days",
        "7",
        "--out",
        "{tmp}/out.json",
    ],  # fmt: skip
    ("pipeline", "run"): ["--date", "2008-05-20"],
    ("pipeline", "backfill"): ["--start", "2008-05-20", "--end", "2008-05-21"],
    ("token",): ["--role", "operator", "--name", "ops"],
    ("evaluate",): ["--start", "2008-05-29", "--days", "1"],
    ("simulate",): ["--start", "2008-05-20"],
    ("recommend",): ["--at", "2008-05-20T12:00", "--geojson", "{tmp}/routes.geojson"],
    ("demo",): ["--no-serve"],  # fails at once on the empty data folder, before any batch
    ("synth", "city"): ["--segments", "200", "--taxis", "1", "--days", "1", "--out", "{tmp}/c"],
    ("export", "demand"): ["--day", "2008-05-20"],
    ("export", "forecasts"): ["--day", "2008-05-20"],
    ("export", "routes"): ["--at", "2008-05-20T12:00"],
}
FINE_WHEN_EMPTY = {
    ("ingest", "cabspotting"),  # an empty folder loads nothing
    ("ingest", "derive"),  # no telemetry, no trips
    ("token",),
    ("settings",),
    ("synth", "city"),  # needs no home: it writes a city
}
SERVERS = {("serve",), ("pipeline", "ui"), ("tracking", "ui"), ("lab",)}  # run until Ctrl-C


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, command in getattr(group, "commands", {}).items():
        if hasattr(command, "commands"):
            out += _commands(command, (*path, name))
        else:
            out.append((*path, name))
    return out


COMMANDS = _commands(typer.main.get_command(app))


def test_every_command_is_found() -> None:
    assert {("ingest", "cabspotting"), ("pipeline", "backfill"), ("model", "list"),
            ("demo",), ("serve",)} <= set(COMMANDS)  # fmt: skip
    assert set(ARGS) | FINE_WHEN_EMPTY | SERVERS <= set(COMMANDS), "a listed command is gone"


@pytest.mark.parametrize("path", [c for c in COMMANDS if c not in SERVERS], ids=" ".join)
def test_a_command_in_an_empty_home(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: tuple[str, ...]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("TAXINAV_DATA_DIR", str(data))
    get_settings.cache_clear()
    args = [a.format(data=data, tmp=tmp_path) for a in ARGS.get(path, [])]

    result = runner.invoke(app, [*path, *args])

    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    # Standard error holds log records only, each line with its time and level.
    assert [line for line in result.stderr.splitlines() if not LOG_LINE.match(line)] == []
    if path in FINE_WHEN_EMPTY:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1, result.output
        lines = result.stdout.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stdout


def test_demo_without_data_names_the_setting(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAXINAV_DATA_DIR", str(tmp_path / "nowhere"))
    get_settings.cache_clear()
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 1
    assert result.stdout == (
        f"error: no telemetry at {tmp_path / 'nowhere' / 'cabspotting-sf'}; set TAXINAV_DATA_DIR "
        f"(and TAXINAV_INGEST__SOURCE for the generic layout)\n"
    )
