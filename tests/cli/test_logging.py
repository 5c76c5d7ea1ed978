"""``taxinav --version`` and ``--log-level``; ``taxinav serve`` hands the same logging to
uvicorn, with its access log switched by ``--access-log`` or the setting."""

from __future__ import annotations

import json
import logging
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import taxinav
from taxinav import logs
from taxinav.cli import app
from taxinav.settings import get_settings

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_version_prints_the_distribution_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"taxinav {metadata.version('taxinav')}\n"


def test_the_source_version_is_the_project_version() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert taxinav.__version__ == project["version"]


def test_version_falls_back_to_the_source_tree(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    result = runner.invoke(app, ["--version"])
    assert result.output == f"taxinav {taxinav.__version__}\n"


def test_log_level_overrides_the_setting(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAXINAV_LOG_LEVEL", "ERROR")
    assert runner.invoke(app, ["settings"]).exit_code == 0
    assert logs.current() == ("ERROR", "text")
    result = runner.invoke(app, ["--log-level", "debug", "settings"])
    assert result.exit_code == 0
    assert '"log_level": "DEBUG"' in result.stdout  # the effective settings
    assert logs.current() == ("DEBUG", "text")
    assert logging.getLogger().level == logging.DEBUG


def test_an_unknown_log_level_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--log-level", "loud", "settings"])
    assert result.exit_code == 2
    assert "Invalid value" in result.output


def test_json_records_from_a_command(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXINAV_LOG_FORMAT", "json")
    result = runner.invoke(app, ["model", "list"])  # MLflow creates its store: INFO records
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert records and all({"ts", "level", "logger", "message"} <= r.keys() for r in records)
    assert any(r["logger"].startswith("mlflow") for r in records)


class _Server:
    configs: list[Any] = []

    def __init__(self, config: Any) -> None:
        self.configs.append(config)

    def run(self) -> None:
        pass


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    import uvicorn

    import taxinav.serve.api
    import taxinav.serve.service

    monkeypatch.setattr(uvicorn, "Server", _Server)
    monkeypatch.setattr(taxinav.serve.service, "Service", lambda settings: object())
    monkeypatch.setattr(taxinav.serve.api, "create_app", lambda *a: object())
    monkeypatch.setattr(sys, "setswitchinterval", lambda _: None)
    settings = get_settings()
    settings.home.mkdir(parents=True)
    settings.warehouse_path.touch()
    _Server.configs = []
    return _Server.configs


@pytest.mark.parametrize(
    ("args", "env", "access_log"),
    [
        ([], None, False),
        (["--access-log"], None, True),
        ([], "true", True),
        (["--no-access-log"], "true", False),
    ],
)
def test_serve_logs_through_the_root_handler(
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    fake_server: list[Any],
    args: list[str],
    env: str | None,
    access_log: bool,
) -> None:
    if env is not None:
        monkeypatch.setenv("TAXINAV_SERVE__ACCESS_LOG", env)
        get_settings.cache_clear()
    result = runner.invoke(app, ["serve", *args])
    assert result.exit_code == 0, result.output
    (config,) = fake_server
    assert config.log_config is None  # uvicorn's loggers propagate to the root handler
    assert config.access_log is access_log


class _Ran:
    """Stands in for the UI server's ``subprocess.run``; other commands run as usual."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.cmd: list[str] = []
        self.env: dict[str, str] = {}

    def __call__(self, cmd: list[str], **kw: Any) -> Any:
        if cmd[:2] != [sys.executable, "-m"]:
            return self.run(cmd, **kw)
        self.cmd, self.env = cmd, kw["env"]
        return type("Done", (), {"returncode": 0})()


def test_the_dagster_ui_logs_at_the_commands_level(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    ran = _Ran(subprocess.run)
    monkeypatch.setattr(subprocess, "run", ran)
    monkeypatch.setenv("TAXINAV_LOG_FORMAT", "json")
    result = runner.invoke(app, ["--log-level", "WARNING", "pipeline", "ui"])
    assert result.exit_code == 0, result.output
    # The code location (pipeline/definitions.py) reads these; Dagster's services get the same.
    assert (ran.env["TAXINAV_LOG_LEVEL"], ran.env["TAXINAV_LOG_FORMAT"]) == ("WARNING", "json")
    assert ran.cmd[-4:] == ["--log-level", "warning", "--log-format", "json"]


def test_the_mlflow_ui_formats_its_own_logs(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    ran = _Ran(subprocess.run)
    monkeypatch.setattr(subprocess, "run", ran)
    assert runner.invoke(app, ["tracking", "ui"]).exit_code == 0
    assert ran.env["MLFLOW_CONFIGURE_LOGGING"] == "true"
