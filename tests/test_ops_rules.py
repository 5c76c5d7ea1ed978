"""The Prometheus alerting rules (ops/prometheus/): valid, unit-tested with promtool (each alert
fires and stays quiet where it should), written against metrics the service exports, and
matching the monitor's default settings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from taxinav.serve.metrics import exposition
from taxinav.serve.service import Service
from taxinav.settings import MlopsSettings, MonitoringSettings, Settings

OPS = Path(__file__).resolve().parents[1] / "ops" / "prometheus"
RULES = OPS / "taxinav.rules.yml"
RULE_TESTS = OPS / "taxinav.rules.test.yml"


@pytest.fixture
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") or os.environ.get("TAXINAV_REQUIRE_PROMTOOL"):
            pytest.fail("promtool is required in CI (.ci/run installs Debian's package "
                        "prometheus)")  # fmt: skip
        pytest.skip("promtool not installed (apt-get install --no-install-recommends prometheus)")
    return found


def _run(cmd: list[str], cwd: Path) -> str:
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_the_rules_are_valid(promtool: str) -> None:
    assert "SUCCESS: 4 rules found" in _run([promtool, "check", "rules", str(RULES)], OPS)


def test_each_alert_fires_and_stays_quiet_where_it_should(promtool: str) -> None:
    assert "SUCCESS" in _run([promtool, "test", "rules", RULE_TESTS.name], OPS)


def _rules() -> list[dict[str, object]]:
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def test_every_alert_is_unit_tested() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())
    tested = {a["alertname"] for t in tests["tests"] for a in t["alert_rule_test"]
              if a.get("exp_alerts")}  # fmt: skip
    assert tested == {r["alert"] for r in _rules()}


def test_the_rules_read_metrics_the_service_exports(tmp_path: Path) -> None:
    service = Service(Settings(home=tmp_path / "var", mlops=MlopsSettings(track=False)))
    page = exposition(service).decode()
    exported = set(re.findall(r"^# TYPE (\S+) ", page, flags=re.MULTILINE))
    metric = re.compile(r"\b((?:taxinav|process)_[a-z0-9_]+)\b")
    used = {name for r in _rules() for name in metric.findall(str(r["expr"]))}
    assert used and used <= exported, used - exported


def test_the_accuracy_alert_waits_as_many_hours_as_the_monitor_waits_windows() -> None:
    # Prometheus cannot read the setting: `for:` must be changed with it (the thresholds
    # come from the service's taxinav_monitoring_* gauges).
    (rule,) = [r for r in _rules() if r["alert"] == "TaxinavChampionTrailsBase"]
    assert rule["for"] == f"{MonitoringSettings().consecutive_windows}h"
