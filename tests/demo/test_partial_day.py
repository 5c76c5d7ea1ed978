"""Data whose last day ends part-way: the telemetry check blocks that day, every later step
skips it and says so, and the batch finishes with the day listed in its report."""

from __future__ import annotations

import gzip
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from taxinav.demo import run_batch
from taxinav.pipeline.runner import DagsterOrchestrator
from taxinav.settings import ForecastSettings, IngestSettings, RoadsSettings, Settings
from taxinav.warehouse import connect
from tests.conftest import OSM_FILE

pytestmark = [pytest.mark.data, pytest.mark.slow]
CABS = ("new_abboip.txt.gz", "new_abcoij.txt.gz", "new_abdremlu.txt.gz")
# The data ends at 03:00 on its last day: three quiet hours, far below a usual day's fixes.
END = datetime(2008, 5, 31, 3, 0, tzinfo=ZoneInfo("America/Los_Angeles"))


def _ending_mid_day(real_data: Path, target: Path) -> Path:
    """The cabs' files cut at END (lines are ``lat lon occupied epoch``, oldest first)."""
    cabs = target / "data" / "cabspotting-sf"
    cabs.mkdir(parents=True)
    (target / "data" / "osm").mkdir()
    (target / "data" / "osm" / OSM_FILE.name).symlink_to(real_data / "osm" / OSM_FILE.name)
    for cab in CABS:
        with gzip.open(real_data / "cabspotting-sf" / cab, "rt") as fh:
            kept = [line for line in fh if int(line.split()[3]) < END.timestamp()]
        (cabs / cab.removesuffix(".gz")).write_text("".join(kept))
    return target / "data"


def test_a_partial_last_day_is_blocked_skipped_and_reported(
    real_data: Path, tmp_path: Path
) -> None:
    settings = Settings(
        home=tmp_path / "var",
        data_dir=_ending_mid_day(real_data, tmp_path),
        ingest=IngestSettings(workers=1),
        roads=RoadsSettings(meili_workers=1),
        forecast=ForecastSettings(demo_units=("h3",), demo_test_days=2),
    )
    out = io.StringIO()
    run_batch(settings, Console(file=out, width=200), DagsterOrchestrator.for_settings(settings))
    printed = out.getvalue()
    assert "Traceback" not in printed
    assert "2008-05-31: blocked by failed checks ['telemetry_row_count']" in printed
    assert "re-forecast: 2008-05-31 skipped" in printed
    report = (settings.reports_dir / "ingest.md").read_text()
    section = report.split("## Days blocked by quality checks")[1]
    assert "| 2008-05-31 | telemetry_row_count |" in section

    con = connect(settings.warehouse_path, read_only=True)
    days = con.execute(
        """SELECT DISTINCT timezone('America/Los_Angeles', slot_start)::DATE::VARCHAR
           FROM forecasts WHERE model = 'champion' ORDER BY 1"""
    ).fetchall()
    con.close()
    # The two full test days before it were re-forecast; the blocked day never was.
    assert ("2008-05-29",) in days and ("2008-05-30",) in days
    assert ("2008-05-31",) not in days
