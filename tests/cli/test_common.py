"""The shared error path and option types: one ``error:`` line and exit code 1 for a malformed
value, the choice itself refusing a value outside it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from taxinav.cli import app
from taxinav.cli.common import Unit, UnitOption, date_option, fail, moment_option

probe = typer.Typer()
seen: dict[str, object] = {}


@probe.command()
def _probe(
    first: Annotated[date, date_option(help="A day")],
    last: Annotated[date | None, date_option("--until", help="Another day")] = None,
    at: Annotated[datetime | None, moment_option(help="A moment")] = None,
    unit: UnitOption = Unit.h3,
) -> None:
    seen.update(first=first, last=last, at=at, unit=unit)


def test_fail_prints_one_line_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as stop:
        fail("no warehouse at [bold]var/x.duckdb[/bold];\n  run `taxinav demo`")
    assert stop.value.exit_code == 1
    out = capsys.readouterr().out
    assert out == "error: no warehouse at [bold]var/x.duckdb[/bold]; run `taxinav demo`\n"


def test_fail_inside_a_command_is_exit_1_without_a_traceback(runner: CliRunner) -> None:
    result = runner.invoke(app, ["ingest", "cabspotting", "/nonexistent/cabs"])
    assert result.exit_code == 1
    assert result.output == "error: /nonexistent/cabs is not a directory\n"
    assert isinstance(result.exception, SystemExit)


def test_dates_reach_the_command_parsed(runner: CliRunner) -> None:
    result = runner.invoke(
        probe, ["--first", "2008-05-20", "--until", "2008-05-21", "--at", "2008-05-20T08:30"]
    )
    assert result.exit_code == 0, result.output
    assert seen == {"first": date(2008, 5, 20), "last": date(2008, 5, 21),
                    "at": datetime(2008, 5, 20, 8, 30), "unit": Unit.h3}  # fmt: skip


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--first", "20/05/2008"], "error: --first '20/05/2008' is not a date (YYYY-MM-DD)"),
        (
            ["--first", "2008-05-20", "--until", "2008-02-30"],
            "error: --until '2008-02-30' is not a date (YYYY-MM-DD)",
        ),
        (
            ["--first", "2008-05-20", "--at", "8:30"],
            "error: --at '8:30' is not a date-time (YYYY-MM-DDTHH:MM)",
        ),
    ],
)
def test_a_malformed_date_is_one_line_naming_the_option(
    runner: CliRunner, args: list[str], line: str
) -> None:
    result = runner.invoke(probe, args)
    assert result.exit_code == 1
    assert result.output == line + "\n"
    assert "Traceback" not in result.output


def test_a_malformed_date_in_a_real_command(runner: CliRunner) -> None:
    result = runner.invoke(app, ["pipeline", "backfill", "--start", "2008-05-20", "--end", "x"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["error: --end 'x' is not a date (YYYY-MM-DD)"]


@pytest.mark.parametrize(
    "args",
    [
        ["forecast", "tune", "--unit", "hexagon"],
        ["forecast", "backtest", "--unit", "segment"],
        ["model", "list", "--unit", "H3 "],
        ["token", "--role", "admin", "--name", "x"],
        ["token", "--role", "", "--name", "x"],
    ],
)
def test_an_unknown_unit_or_role_is_refused_by_the_choice(
    runner: CliRunner, args: list[str]
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code not in (0, 1)  # a usage error, before the command runs
    assert "Invalid value" in result.output
    assert "Traceback" not in result.output


def test_the_unit_reaches_the_command_as_a_choice(runner: CliRunner) -> None:
    result = runner.invoke(probe, ["--first", "2008-05-20", "--unit", "road"])
    assert result.exit_code == 0, result.output
    assert seen["unit"] is Unit.road


@pytest.mark.parametrize(
    ("args", "choices"),
    [
        (["forecast", "tune", "--help"], ("road", "h3")),
        (["model", "list", "--help"], ("road", "h3")),
        (["token", "--help"], ("driver", "operator", "ingest")),
    ],
)
def test_the_help_lists_the_choices(
    runner: CliRunner, args: list[str], choices: tuple[str, ...]
) -> None:
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == 0
    assert f"<{'|'.join(choices)}>" in result.output
