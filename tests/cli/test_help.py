"""``--help`` shows every command's whole text: help is Rich markup, in which a bracketed word
that looks like a style (``[start, end]``) silently vanishes. Choices are listed."""

from __future__ import annotations

import inspect
import re

import pytest
import typer
from typer.testing import CliRunner

from taxinav.cli import app
from taxinav.guidance.experiment import ALL_POLICIES

ROOT = typer.main.get_command(app)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _all(group: object, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    out: list[tuple[tuple[str, ...], object]] = [(path, group)]
    for name, command in getattr(group, "commands", {}).items():
        if hasattr(command, "commands"):
            out += _all(command, (*path, name))
        else:
            out.append(((*path, name), command))
    return out


def _flat(text: str) -> str:
    return " ".join(ANSI.sub("", text).replace("│", " ").split())


def _help(runner: CliRunner, path: tuple[str, ...]) -> str:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    return _flat(result.output)


CASES = [
    pytest.param(path, command, id=" ".join(path) or "taxinav") for path, command in _all(ROOT)
]


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # one line per option: its help is not interleaved


@pytest.mark.parametrize(("path", "command"), CASES)
def test_help_shows_the_whole_text(
    runner: CliRunner, wide: None, path: tuple[str, ...], command: object
) -> None:
    shown = _help(runner, path)
    text = inspect.cleandoc(getattr(command, "help", None) or "")
    assert _flat(text) in shown
    for param in getattr(command, "params", []):
        if getattr(param, "help", None):
            assert _flat(param.help) in shown, f"{param.name}: {param.help!r}"


def test_backfill_states_its_range(runner: CliRunner, wide: None) -> None:
    shown = _help(runner, ("pipeline", "backfill"))
    assert "every day from --start to --end, both included" in shown
    assert "--from-asset, the assets upstream of it are kept as they are" in shown


def test_units_and_roles_are_listed_choices(runner: CliRunner, wide: None) -> None:
    checked = 0
    for path, command in _all(ROOT):
        names = {getattr(p, "name", None) for p in getattr(command, "params", [])}
        for name, choices in (("unit", "<road|h3>"), ("role", "<driver|operator|ingest>")):
            if name in names:
                assert choices in _help(runner, path), " ".join(path)
                checked += 1
    assert checked >= 6  # forecast tune and backtest, model list, promote, rollback, token


def test_the_policy_help_lists_every_policy(runner: CliRunner, wide: None) -> None:
    shown = _help(runner, ("simulate",))
    assert all(name in shown for name in ALL_POLICIES)
