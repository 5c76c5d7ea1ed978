"""A small real home for the service: six real cabs, three days through the pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from taxinav.settings import (
    DEV_TOKENS,
    IngestSettings,
    MlopsSettings,
    PipelineSettings,
    ServeSettings,
    Settings,
)
from tests.conftest import data_subset

CABS = (
    "new_abboip.txt.gz",
    "new_abcoij.txt.gz",
    "new_abdremlu.txt.gz",
    "new_abgibo.txt.gz",
    "new_abjoolaw.txt.gz",
    "new_abmuyawm.txt.gz",
    "new_abniar.txt.gz",
    "new_abnovkak.txt.gz",
)
DAYS = (date(2008, 5, 18), date(2008, 5, 19), date(2008, 5, 20))
TOKENS = {role: t for t, (role, _) in DEV_TOKENS.items()}


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def build_served_home(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Landing, roads and the daily pipeline for DAYS (the ``served_home`` fixture, once per
    session, in tests/conftest.py)."""
    from taxinav.pipeline import runner

    tmp = tmp_path_factory.mktemp("serve")
    data_subset(real_data, tmp, CABS)
    s = _settings(tmp, tmp / "var")
    runner.materialize(s, runner.SOURCES)
    runner.backfill(s, DAYS[0], DAYS[-1])
    return tmp


def _settings(tmp: Path, home: Path, **serve: object) -> Settings:
    return Settings(
        home=home,
        data_dir=tmp / "data",
        ingest=IngestSettings(workers=1),
        mlops=MlopsSettings(track=False),
        pipeline=PipelineSettings(first_day=date(2008, 5, 17)),
        serve=ServeSettings(**serve),  # type: ignore[arg-type]
    )


@pytest.fixture
def service_settings(served_home: Path, tmp_path: Path) -> Settings:
    """The shared warehouse, but this test's own append log and landing store."""
    import shutil

    home = tmp_path / "var"
    home.mkdir()
    shutil.copy(served_home / "var" / "warehouse.duckdb", home / "warehouse.duckdb")
    return _settings(served_home, home, max_batch_items=2000, refresh_s=600)


@pytest.fixture
def client(service_settings: Settings) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from taxinav.serve.api import create_app
    from taxinav.serve.service import Service

    service = Service(service_settings)
    app = create_app(service, DAYS[1], background=False)
    with TestClient(app) as c:
        c.service = service  # type: ignore[attr-defined]
        yield c
