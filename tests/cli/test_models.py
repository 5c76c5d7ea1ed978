"""``taxinav model``: promote, list and roll back through the registry."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from taxinav.cli import app


def test_model_commands_promote_list_and_roll_back(runner: CliRunner, tmp_path: Path) -> None:
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
