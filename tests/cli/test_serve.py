"""``taxinav token`` and ``taxinav serve``: roles are a choice, days are dates."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from taxinav.cli import app
from taxinav.settings import token_hash


def test_a_token_entry_holds_the_hash_of_its_secret(runner: CliRunner) -> None:
    result = runner.invoke(app, ["token", "--role", "operator", "--name", "ops"])
    assert result.exit_code == 0, result.output
    first, rest = result.output.split("\n", 1)
    secret = first.removeprefix("secret (shown once): ")
    entry = json.loads(rest)
    assert entry == {"name": "ops", "role": "operator", "sha256": token_hash(secret),
                     "vehicle_id": None}  # fmt: skip


def test_a_driver_token_needs_a_vehicle(runner: CliRunner) -> None:
    result = runner.invoke(app, ["token", "--role", "driver", "--name", "d"])
    assert result.exit_code == 1
    assert result.output == "error: a driver token needs --vehicle\n"


def test_serve_names_a_malformed_day(runner: CliRunner) -> None:
    result = runner.invoke(app, ["serve", "--replay", "2008-5-1"])
    assert result.exit_code == 1
    assert result.output == "error: --replay '2008-5-1' is not a date (YYYY-MM-DD)\n"
