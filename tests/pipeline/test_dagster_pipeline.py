"""The Dagster pipeline in-process on real days of a few real cabs: idempotent partitions,
re-running a middle asset, quality gates that block, and the same trips as the whole-table
derivation."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from taxinav.pipeline import runner
from taxinav.settings import (
    ForecastSettings,
    IngestSettings,
    MlopsSettings,
    PipelineSettings,
    Settings,
)
from taxinav.warehouse import TABLES, connect, table_checksum
from tests.conftest import data_subset

pytestmark = [pytest.mark.data, pytest.mark.slow]
CABS = ("new_abboip.txt.gz", "new_abcoij.txt.gz", "new_abdremlu.txt.gz", "new_acitva.txt.gz",
        "new_abgibo.txt.gz", "new_abjoolaw.txt.gz")  # fmt: skip
DAY = date(2008, 5, 18)


def _settings(real_data: Path, tmp: Path, **pipeline: object) -> Settings:
    data = data_subset(real_data, tmp, CABS)
    return Settings(
        home=tmp / "var", data_dir=data, ingest=IngestSettings(workers=1),
        forecast=ForecastSettings(demo_units=("h3",)), mlops=MlopsSettings(track=False),
        pipeline=PipelineSettings(first_day=date(2008, 5, 17), **pipeline),  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture(scope="module")
def settings(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    s = _settings(real_data, tmp_path_factory.mktemp("dagster"))
    runner.materialize(s, runner.SOURCES)
    for d in (date(2008, 5, 17), DAY, date(2008, 5, 19)):
        runner.materialize(s, ["telemetry"], d)
    return s


def _checksums(settings: Settings) -> dict[str, tuple[int, str]]:
    con = connect(settings.warehouse_path)
    try:
        return {t: table_checksum(con, t) for t in TABLES if t != "step_runs"}
    finally:
        con.close()


def test_materialising_a_partition_twice_leaves_identical_tables(settings: Settings) -> None:
    first = runner.materialize(settings, runner.partitioned_assets(settings), DAY)
    assert first.success and not first.failed_checks
    sums = _checksums(settings)
    for table in ("telemetry", "trips", "trip_end_matches", "demand_counts", "unit_features",
                  "forecasts", "forecast_accuracy"):  # fmt: skip
        assert sums[table][0] > 0, table
    again = runner.materialize(settings, runner.partitioned_assets(settings), DAY)
    assert again.success
    assert _checksums(settings) == sums


def test_a_middle_asset_reruns_without_recomputing_upstream(settings: Settings) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        runner.materialize(settings, runner.partitioned_assets(settings), DAY, instance)
        before = _checksums(settings)
        run = runner.materialize(settings, ["demand"], DAY, instance)
        counts = {
            name: len(instance.fetch_materializations(dg.AssetKey(name), limit=100).records)
            for name in ("telemetry", "trips", "pickups", "demand")
        }
    assert list(run.metadata) == ["demand"]
    assert counts == {"telemetry": 1, "trips": 1, "pickups": 1, "demand": 2}
    after = _checksums(settings)
    for table in ("telemetry", "trips", "trip_end_matches", "demand_counts"):
        assert after[table] == before[table], table


def test_day_trips_are_those_of_the_whole_table_derivation(settings: Settings) -> None:
    from taxinav import ingest
    from taxinav.calendar import Day

    runner.materialize(settings, ["trips"], DAY)
    d = Day.of(DAY, settings.tz)
    whole = connect(settings.home / "whole.duckdb")
    whole.execute(f"ATTACH '{settings.landing_path}' AS landing (READ_ONLY)")
    whole.execute("INSERT INTO telemetry SELECT * FROM landing.telemetry")
    ingest.derive_trips_and_spells(whole, settings.ingest.gap_limit_min)
    sql = "SELECT * FROM {} WHERE {} >= ? AND {} < ? ORDER BY 1"
    expected_trips = whole.execute(sql.format("trips", "pickup_ts", "pickup_ts"),
                                   [d.start, d.end]).fetchall()  # fmt: skip
    expected_spells = whole.execute(sql.format("vacant_spells", "start_ts", "start_ts"),
                                    [d.start, d.end]).fetchall()  # fmt: skip
    whole.close()
    con = connect(settings.warehouse_path)
    got_trips = con.execute(sql.format("trips", "pickup_ts", "pickup_ts"),
                            [d.start, d.end]).fetchall()  # fmt: skip
    got_spells = con.execute(sql.format("vacant_spells", "start_ts", "start_ts"),
                             [d.start, d.end]).fetchall()  # fmt: skip
    con.close()
    assert len(expected_trips) > 50
    assert got_trips == expected_trips
    assert got_spells == expected_spells


def test_a_failed_quality_gate_blocks_the_rest_of_the_day_and_alerts(
    real_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="taxinav.mlops.monitoring")
    s = _settings(real_data, tmp_path, min_matched_share=1.0)  # no day matches every pickup
    runner.materialize(s, runner.SOURCES)
    runs = runner.backfill(s, DAY, DAY)
    assert [r.failed_checks for r in runs] == [[], ["pickups_matched_share"]]
    assert "demand" not in runs[1].metadata and "pickups" in runs[1].metadata
    alerts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ALERT")]
    assert len(alerts) == 1 and "pickups_matched_share" in alerts[0]
