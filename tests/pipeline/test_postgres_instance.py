"""The Dagster instance in PostgreSQL: two `taxinav pipeline run`s of different days at once,
each recorded by the one instance; its configuration names the URL's variable, not the URL."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from pydantic import SecretStr

from taxinav.pipeline import runner
from taxinav.settings import (
    POSTGRES_URL_ENV,
    IngestSettings,
    MlopsSettings,
    PipelineSettings,
    Settings,
)
from taxinav.warehouse import connect
from tests.conftest import data_subset
from tests.postgres_server import PostgresServer

pytestmark = [pytest.mark.data, pytest.mark.slow]
CABS = ("new_abboip.txt.gz", "new_abcoij.txt.gz", "new_acitva.txt.gz")
DAYS = (date(2008, 5, 18), date(2008, 5, 19))


def test_two_partitions_run_at_once_into_one_postgres_instance(
    real_data: Path, tmp_path: Path, postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    postgres_url = postgres.database("dagster")
    monkeypatch.delenv(POSTGRES_URL_ENV, raising=False)
    data = data_subset(real_data, tmp_path, CABS)
    pipeline = PipelineSettings(first_day=date(2008, 5, 17), postgres_url=SecretStr(postgres_url))
    settings = Settings(home=tmp_path / "var", data_dir=data, ingest=IngestSettings(workers=1),
                        mlops=MlopsSettings(track=False), pipeline=pipeline)  # fmt: skip
    runner.materialize(settings, runner.SOURCES)
    for d in (date(2008, 5, 17), *DAYS, date(2008, 5, 20)):
        runner.materialize(settings, ["telemetry"], d)

    env = {**os.environ, "TAXINAV_HOME": str(settings.home), "TAXINAV_DATA_DIR": str(data),
           "TAXINAV_INGEST__WORKERS": "1", "TAXINAV_MLOPS__TRACK": "false",
           "TAXINAV_PIPELINE__FIRST_DAY": "2008-05-17", POSTGRES_URL_ENV: postgres_url}  # fmt: skip
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "taxinav.cli",
                "pipeline",
                "run",
                "--date",
                d.isoformat(),
                "--asset",
                "trips",
                "--asset",
                "pickups",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for d in DAYS
    ]
    outputs = [p.communicate(timeout=600)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(outputs)

    config = (settings.dagster_home / "dagster.yaml").read_text()
    assert "env: TAXINAV_DAGSTER_POSTGRES_URL" in config and "127.0.0.1" not in config
    assert not list(settings.dagster_home.rglob("*.db")), "a SQLite store was made"
    instance = runner.instance_for(settings)
    runs = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
    assert sorted(r.dagster_run.tags.get("dagster/partition", "") for r in runs) == [
        d.isoformat() for d in DAYS
    ]
    # Both processes were started before either was waited for; the warehouse admits one
    # writer at a time, so their steps may take turns, but the instance took both runs.
    assert len({r.dagster_run.run_id for r in runs}) == 2
    con = connect(settings.warehouse_path)
    try:
        days = con.execute("SELECT count(DISTINCT CAST(timezone('America/Los_Angeles', "
                           "pickup_ts) AS DATE)) FROM trips").fetchone()  # fmt: skip
    finally:
        con.close()
    assert days is not None and days[0] >= 2
