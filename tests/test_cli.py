"""The command line lists its commands and fails clearly on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from taxinav.cli import app
from taxinav.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXINAV_HOME", str(tmp_path / "var"))
    get_settings.cache_clear()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("ingest", "roads", "demo", "settings", "model", "tracking", "recommend",
                    "simulate", "evaluate"):  # fmt: skip
        assert command in result.output


def test_missing_directory_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", "cabspotting", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "is not a directory" in result.output


def test_a_bad_file_is_rejected_with_file_and_line_and_others_still_load(
    tmp_path: Path,
) -> None:
    good = tmp_path / "good.csv"
    good.write_text("vehicle_id,ts,lat,lon,occupied\ncab1,1211033530,37.7,-122.4,1\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,when\n1,2\n")
    result = runner.invoke(app, ["ingest", "telemetry", str(good), str(bad)])
    assert result.exit_code == 1
    assert "bad.csv:1: missing column(s)" in result.output
    assert "loaded 1" in result.output


def test_matching_without_a_network_explains_what_to_run() -> None:
    result = runner.invoke(app, ["roads", "match"])
    assert result.exit_code == 1
    assert "taxinav roads load" in result.output


def test_model_commands_promote_list_and_roll_back(tmp_path: Path) -> None:

    from taxinav.mlops.registry import Registry, tracking_uri
    from tests.mlops.fake_runs import log_test_model

    uri = tracking_uri(tmp_path / "var")
    reg = Registry(uri)
    versions = []
    for _ in range(2):
        versions.append(reg.register("road", log_test_model(uri, tmp_path / "artifacts")))
    assert runner.invoke(app, ["model", "rollback"]).exit_code == 1  # nothing to roll back to
    for v in versions:
        assert runner.invoke(app, ["model", "promote", v]).exit_code == 0
    listed = runner.invoke(app, ["model", "list"])
    assert listed.exit_code == 0 and "v2  champion,challenger" in listed.output
    result = runner.invoke(app, ["model", "rollback"])
    assert result.exit_code == 0 and "rolled back to v1" in result.output
    assert reg.alias("road", "champion") == "1"
    assert runner.invoke(app, ["model", "list", "--unit", "h3"]).exit_code == 1
    missing = runner.invoke(app, ["model", "promote", "9"])
    assert missing.exit_code == 1 and "has no version 9" in missing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pipeline", "run", "--date", "2008-13-01"], "is not a date"),
        (["pipeline", "run", "--date", "2008-05-20", "--asset", "nope"], "unknown daily asset"),
        (["pipeline", "run", "--date", "2008-05-20"], "no landing store"),
        (["pipeline", "backfill", "--start", "2008-05-20", "--end", "2008-05-19"], "before start"),
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
        ),  # fmt: skip
    ],
)
def test_pipeline_commands_explain_bad_input(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate", "--start", "29 May"], "--start '29 May' is not a date"),
        (["evaluate", "--start", "2008-05-29", "--parts", "main,nope"], "choose from main"),
        (["evaluate", "--start", "2008-05-29"], "no warehouse"),
        (["simulate", "--start", "2008-05-29", "--policy", "teleport"], "unknown policy"),
        (["simulate", "--start", "2008-05-29", "--policy", "guided:psychic"], "demand one of"),
    ],
)
def test_evaluation_commands_explain_bad_input(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
