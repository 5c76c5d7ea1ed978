"""``taxinav evaluate``: bad input is explained in one line before any simulation."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from taxinav.cli import app
from tests.cli.errors import assert_explained


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate", "--start", "29 May"], "--start '29 May' is not a date"),
        (["evaluate", "--start", "2008-05-29", "--grid-day", "x"], "--grid-day 'x' is not a date"),
        (["evaluate", "--start", "2008-05-29", "--parts", "main,nope"], "choose from main"),
        (["evaluate", "--start", "2008-05-29"], "no warehouse"),
    ],
)
def test_evaluation_commands_explain_bad_input(
    runner: CliRunner, args: list[str], message: str
) -> None:
    result = runner.invoke(app, args)
    assert_explained(result, message)
