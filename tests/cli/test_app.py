"""The command line lists its commands."""

from __future__ import annotations

from typer.testing import CliRunner

from taxinav.cli import app


def test_help_lists_the_commands(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("ingest", "roads", "demo", "settings", "model", "tracking", "recommend",
                    "simulate", "evaluate", "forecast", "pipeline", "serve", "token",
                    "synth"):  # fmt: skip
        assert command in result.output


def test_settings_prints_the_effective_settings(runner: CliRunner) -> None:
    result = runner.invoke(app, ["settings"])
    assert result.exit_code == 0
    assert '"home"' in result.output
