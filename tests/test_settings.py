"""Settings: defaults, environment overrides, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from taxinav.settings import Settings


def test_environment_overrides_nested_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXINAV_HOME", "/tmp/elsewhere")
    monkeypatch.setenv("TAXINAV_INGEST__GAP_LIMIT_MIN", "15")
    monkeypatch.setenv("TAXINAV_ROADS__H3_RESOLUTION", "8")
    s = Settings()
    assert s.home == Path("/tmp/elsewhere")
    assert s.warehouse_path == Path("/tmp/elsewhere/warehouse.duckdb")
    assert s.ingest.gap_limit_min == 15
    assert s.roads.h3_resolution == 8


def test_defaults() -> None:
    s = Settings()
    assert s.home == Path("var")
    assert s.timezone == "America/Los_Angeles"
    assert s.ingest.gap_limit_min == 10
    assert s.ingest.max_speed_kmh == 200
    assert s.roads.match_radius_m == 50


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings(timezone="Mars/Olympus")


def test_negative_gap_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXINAV_INGEST__GAP_LIMIT_MIN", "-1")
    with pytest.raises(ValidationError):
        Settings()
