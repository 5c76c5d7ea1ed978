"""``taxinav pipeline``: bad input is explained in one line, not a traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from taxinav.cli import app
from tests.cli.errors import assert_explained


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pipeline", "run", "--date", "2008-13-01"], "--date '2008-13-01' is not a date"),
        (["pipeline", "run", "--date", "2008-05-20", "--asset", "nope"], "unknown daily asset"),
        (["pipeline", "run", "--date", "2008-05-20"], "no landing store"),
        (["pipeline", "backfill", "--start", "2008-05-20", "--end", "2008-05-19"], "before start"),
        (
            ["pipeline", "backfill", "--start", "2008-05-20", "--end", "21.05.2008"],
            "--end '21.05.2008' is not a date",
        ),
        (
            [
                "pipeline",
                "backfill",
                "--start",
                "2008-05-20",
                "--end",
                "2008-05-21",
                "--from-asset",
                "nope",
            ],
            "unknown daily asset",
        ),
    ],
)
def test_pipeline_commands_explain_bad_input(
    runner: CliRunner, args: list[str], message: str
) -> None:
    result = runner.invoke(app, args)
    assert_explained(result, message)
