"""The promotion gate by hand, and champion / challenger / rollback on a local MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxinav.mlops.registry import CHALLENGER, CHAMPION, Registry, gate, tracking_uri
from tests.mlops.fake_runs import log_test_model
from tests.postgres_server import PostgresServer


def test_gate_needs_to_beat_base_and_champion_by_the_margin() -> None:
    assert gate(0.20, None, 0.22, 0.05).promote  # 0.20 ≤ 0.22 × 0.95 = 0.209
    assert not gate(0.21, None, 0.22, 0.05).promote  # 0.21 > 0.209
    rejected = gate(0.19, 0.195, 0.22, 0.05)  # beats the base, not the champion (0.185)
    assert not rejected.promote and "champion" in rejected.reason


@pytest.fixture()
def registry(tmp_path: Path) -> Registry:
    return Registry(tracking_uri(tmp_path))


def _run(uri: str) -> str:
    return log_test_model(uri, Path(uri.removeprefix("sqlite:///")).parent / "artifacts")


def test_a_degraded_challenger_is_not_promoted_and_rollback_restores(registry: Registry) -> None:
    uri = registry.client._tracking_client.tracking_uri
    v1 = registry.register("road", _run(uri))
    assert registry.decide("road", v1, 0.20, None, 0.22, 0.02).promote
    assert registry.alias("road", CHAMPION) == v1

    v2 = registry.register("road", _run(uri))  # degraded: worse than champion and base
    d = registry.decide("road", v2, 0.25, 0.20, 0.22, 0.02)
    assert not d.promote
    assert registry.alias("road", CHAMPION) == v1 and registry.alias("road", CHALLENGER) == v2
    tags = registry.client.get_model_version(registry.name("road"), v2).tags
    assert tags["gate_decision"] == "rejected"

    v3 = registry.register("road", _run(uri))
    assert registry.decide("road", v3, 0.18, 0.20, 0.22, 0.02).promote
    assert registry.alias("road", CHAMPION) == v3
    assert registry.history("road") == [v1, v3]

    assert registry.rollback("road") == v1
    assert registry.alias("road", CHAMPION) == v1
    assert [e["event"] for e in registry.events("road")] == ["promote", "promote", "rollback"]
    assert "rolled_back_at" in registry.client.get_model_version(registry.name("road"), v3).tags
    with pytest.raises(LookupError, match="no previous champion"):
        registry.rollback("road")
    rows = registry.versions("road")
    assert [r["version"] for r in rows] == [v1, v2, v3]
    # The latest registered version stays the challenger after its rollback.
    assert [r["aliases"] for r in rows] == [[CHAMPION], [], [CHALLENGER]]


def test_the_registry_keeps_its_versions_in_postgresql(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    uri = postgres.database("mlflow")  # the server the Dagster instance can use as well
    registry = Registry(uri)
    v1 = registry.register("h3", log_test_model(uri, tmp_path / "artifacts"))
    assert registry.decide("h3", v1, 0.20, None, 0.22, 0.02).promote
    again = Registry(uri)  # another process's view: the store, not this object, holds it
    assert again.alias("h3", CHAMPION) == v1
    assert [r["version"] for r in again.versions("h3")] == [v1]
