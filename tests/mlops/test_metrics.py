"""Prometheus metrics rebuilt from what is stored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
from prometheus_client.parser import text_string_to_metric_families

from taxinav.mlops.metrics import build_registry, exposition, record_duration, write_textfile


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_expose_latest_errors_freshness_durations_and_versions(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    h0, h1 = datetime(2008, 5, 20, 7, tzinfo=UTC), datetime(2008, 5, 20, 8, tzinfo=UTC)
    con.executemany(
        "INSERT INTO forecast_accuracy VALUES ('h3', ?, '3', ?, 10, ?, ?, NULL, ?)",
        [("champion", h0, 9.0, 9.0, False), ("champion", h1, 2.0, 1.5, True),
         ("base", h1, 2.5, 2.0, False)],
    )  # fmt: skip
    con.execute("INSERT INTO telemetry VALUES ('cab', ?, 37.7, -122.4, false)", [h1])
    record_duration(tmp_path, "trips", 1.25)
    record_duration(tmp_path, "trips", 2.5)  # the latest wins
    reg = build_registry(con, tmp_path, {"h3": "3", "road": None}, now=h1.replace(hour=9))
    got = _samples(exposition(reg))
    err = "taxinav_forecast_realised_error"
    # The latest hour of each model, labelled: the champion's had trained on that day.
    champion = (("in_sample", "true"), ("metric", "rmse"), ("model", "champion"),
                ("unit_type", "h3"))  # fmt: skip
    assert got[(err, champion)] == 2.0
    assert got[(err, (("in_sample", "false"), ("metric", "mae"), ("model", "base"),
                      ("unit_type", "h3")))] == 2.0  # fmt: skip
    assert not any(k[0] == err and ("in_sample", "false") in k[1] and ("model", "champion")
                   in k[1] for k in got)  # fmt: skip
    assert got[("taxinav_data_freshness_seconds", ())] == 3600.0
    assert got[("taxinav_pipeline_step_duration_seconds", (("step", "trips"),))] == 2.5
    assert got[("taxinav_model_champion_version", (("unit_type", "h3"),))] == 3.0
    assert not any(k[0] == "taxinav_model_champion_version" and ("unit_type", "road") in k[1]
                   for k in got)  # fmt: skip
    path = write_textfile(reg, tmp_path)
    assert "taxinav_data_freshness_seconds 3600.0" in path.read_text()
