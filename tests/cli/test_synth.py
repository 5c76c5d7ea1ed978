"""``taxinav synth city``: what it writes and says; bad arguments end in one error line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from taxinav.cli import app


def test_a_city_is_written_and_described(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "city"
    args = ["synth", "city", "--segments", "400", "--taxis", "2", "--days", "1", "--out", str(out)]
    result = runner.invoke(app, [*args, "--seed", "3", "--start-date", "2008-05-19"])
    assert result.exit_code == 0, result.output
    assert "directed segments" in result.output and "fixes" in result.output
    manifest = json.loads((out / "city.json").read_text())
    assert manifest["seed"] == 3 and manifest["first_date"] == "2008-05-19"
    assert (out / "osm" / "city.osm.pbf").is_file()
    assert (out / "telemetry" / "2008-05-19.csv").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--segments", "50"], "error: --segments 50: a city needs at least 200"),
        (["--taxis", "0"], "error: --taxis and --days must be at least 1, not 0 and 1"),
        (["--timezone", "Mars/Olympus"], "error: unknown time zone 'Mars/Olympus'"),
        (["--start-date", "2008-13-01"], "error: --start-date '2008-13-01' is not a date"),
    ],
)
def test_bad_arguments_end_in_one_error_line(
    runner: CliRunner, tmp_path: Path, extra: list[str], message: str
) -> None:
    args = {"--segments": "400", "--taxis": "2", "--days": "1", "--out": str(tmp_path / "c")}
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        args[flag] = value
    result = runner.invoke(app, ["synth", "city", *[x for kv in args.items() for x in kv]])
    assert result.exit_code == 1
    assert result.output.startswith(message) and result.output.count("\n") == 1
    assert not (tmp_path / "c").exists()
