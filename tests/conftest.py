"""Shared fixtures: an empty warehouse, the real data folder, tiny telemetry builders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest

from taxinav.warehouse import connect

if TYPE_CHECKING:
    from tests.postgres_server import PostgresServer

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CAB_DIR = DATA_DIR / "cabspotting-sf"
OSM_FILE = DATA_DIR / "osm" / "san-francisco-downtown.osm"


def data_subset(real_data: Path, target: Path, cabs: tuple[str, ...]) -> Path:
    """A data folder under ``target`` with only ``cabs`` (symlinked) and the OSM extract."""
    data = target / "data"
    if data.exists():
        return data
    (data / "cabspotting-sf").mkdir(parents=True)
    (data / "osm").mkdir()
    for cab in cabs:
        source = real_data / "cabspotting-sf" / cab
        if not source.is_file():
            raise FileNotFoundError(f"test cab {cab} is not in {real_data}")
        (data / "cabspotting-sf" / cab).symlink_to(source)
    (data / "osm" / OSM_FILE.name).symlink_to(real_data / "osm" / OSM_FILE.name)
    return data


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect(tmp_path / "wh.duckdb", memory_limit="1GB", threads=2)
    yield c
    c.close()


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not CAB_DIR.is_dir() or not OSM_FILE.is_file():
        if os.environ.get("TAXINAV_REQUIRE_DATA"):
            pytest.fail(f"real data required but not found at {DATA_DIR}")
        pytest.skip(f"real data not found at {DATA_DIR}")
    return DATA_DIR


@pytest.fixture(scope="session")
def small_warehouse(
    real_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[duckdb.DuckDBPyConnection]:
    """160 real cabs ingested, trips derived and the road network loaded (shared, read it only)."""
    from taxinav import ingest
    from taxinav.roads import load_roads
    from taxinav.settings import Settings

    settings = Settings(data_dir=real_data)
    c = connect(tmp_path_factory.mktemp("small") / "w.duckdb", memory_limit="2GB")
    files = ingest.list_cabspotting_files(real_data / "cabspotting-sf")[:160]
    ingest.ingest_files(c, files, "cabspotting", ingest.Rules.default(), workers=2)
    ingest.derive_trips_and_spells(c, 10)
    load_roads(c, settings.osm_path, settings.roads.h3_resolution)
    yield c
    c.close()


@pytest.fixture(scope="session")
def served_home(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight real cabs' landing, the road network and the daily pipeline for three days
    (``tests.serve.conftest.DAYS``); its home is ``<path>/var``."""
    from tests.serve.conftest import build_served_home

    return build_served_home(real_data, tmp_path_factory)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of its own for the session (skipped where none is installed,
    unless TAXINAV_REQUIRE_POSTGRES is set, as in CI)."""
    from tests.postgres_server import postgres_bin, postgres_server

    if postgres_bin() is None:
        if os.environ.get("TAXINAV_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL required but no server under /usr/lib/postgresql")
        pytest.skip("no PostgreSQL server installed (Debian package postgresql)")
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A NATS server with JetStream on a free loopback port (Debian package nats-server;
    skipped where it is missing unless TAXINAV_REQUIRE_NATS is set, as in CI)."""
    import shutil
    import socket
    import subprocess
    import time

    binary = shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
    )
    if binary is None:
        if os.environ.get("TAXINAV_REQUIRE_NATS"):
            pytest.fail("NATS required but nats-server is not installed")
        pytest.skip("no nats-server installed (Debian package nats-server)")
    from tests.serve.test_durability import _free_port

    port = _free_port()
    store = tmp_path_factory.mktemp("jetstream")
    proc = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"nats-server did not start on port {port}")
            time.sleep(0.1)
    yield f"nats://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)
