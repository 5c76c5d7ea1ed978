"""How a command's expected failure must look: exit code 1, the message, no traceback."""

from __future__ import annotations

from typer.testing import Result


def assert_explained(result: Result, message: str) -> None:
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
