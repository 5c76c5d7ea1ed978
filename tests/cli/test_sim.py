"""``taxinav simulate`` and ``recommend``: policies and moments are checked before any work."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from taxinav.cli import app
from tests.cli.errors import assert_explained


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["simulate", "--start", "2008-05-29", "--policy", "teleport"],
            "--policy: unknown policy 'teleport'",
        ),
        (["simulate", "--start", "2008-05-29", "--policy", "guided:psychic"], "demand one of"),
        (
            ["simulate", "--start", "2008-05-29", "--other", "nope"],
            "--other: unknown policy 'nope'",
        ),
        (["simulate", "--start", "29/05/2008"], "--start '29/05/2008' is not a date"),
        (["recommend", "--at", "noon", "--geojson", "out.json"], "--at 'noon' is not a date-time"),
    ],
)
def test_simulation_commands_explain_bad_input(
    runner: CliRunner, args: list[str], message: str
) -> None:
    result = runner.invoke(app, args)
    assert_explained(result, message)
    assert len(result.output.strip().splitlines()) == 1


def test_a_valid_policy_spec_passes_the_check(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["simulate", "--start", "2008-05-29", "--policy", "guided:stored:uniform"]
    )
    assert result.exit_code == 1  # on to the (missing) warehouse, past the policy check
    assert result.output.startswith("error: no warehouse at")


def test_the_help_and_completion_offer_every_policy(runner: CliRunner) -> None:
    from taxinav.cli.common import _policy_names
    from taxinav.guidance.experiment import ALL_POLICIES

    result = runner.invoke(app, ["simulate", "--help"], terminal_width=200)
    for name in ALL_POLICIES:
        assert name in result.output
    assert _policy_names("") == list(ALL_POLICIES)
    assert _policy_names("guided") == ["guided", "guided-independent"]
