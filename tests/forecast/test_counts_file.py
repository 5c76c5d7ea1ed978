"""Backtesting a pre-aggregated counts table (another city's data, no telemetry), through the
real training path: fitted before a gate window, gated there, tested after; every window's
forecasts kept per model version."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from taxinav.cli import app
from taxinav.mlops import Registry
from taxinav.settings import get_settings
from taxinav.warehouse import connect, key_is_unique

pytestmark = pytest.mark.model


def _city(path: Path) -> Path:
    """20 grid cells, 9 days of 10-minute slots, Poisson counts with a daily cycle."""
    rng = np.random.default_rng(7)
    start = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)  # local midnight in Los Angeles (PST)
    rows: dict[str, list[object]] = {
        k: [] for k in ("unit_id", "slot_start", "count", "row", "col")
    }
    for cell in range(20):
        base = 0.5 + cell / 4
        for s in range(9 * 144):
            rate = base * (1.2 + np.sin(2 * np.pi * (s % 144) / 144))
            n = int(rng.poisson(rate))
            if n:
                rows["unit_id"].append(f"c{cell}")
                rows["slot_start"].append(start + timedelta(minutes=10 * s))
                rows["count"].append(n)
                rows["row"].append(cell // 5)
                rows["col"].append(cell % 5)
    pacsv.write_csv(pa.table(rows), path)
    return path


def _backtest(counts: Path, out: Path, start: str, days: int) -> dict[str, Any]:
    args = ["forecast", "backtest", "--counts", str(counts), "--test-start", start,
            "--test-days", str(days), "--json", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def test_backtest_on_a_counts_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXINAV_HOME", str(tmp_path / "var"))
    get_settings.cache_clear()
    counts = _city(tmp_path / "city.csv")
    data = _backtest(counts, tmp_path / "bt.json", "2024-03-11", 2)
    assert data["n_units"] == 20
    assert set(data["models"]) == {
        "historical_average",
        "seasonal_naive",
        "persistence",
        "lightgbm",
    }
    gbm = data["models"]["lightgbm"]
    # The series is stationary Poisson: nothing can beat the oracle's noise floor by much,
    # and a sound model gets close to it and stays calibrated.
    assert gbm["rmse"] >= 0.95 * data["noise_floor_rmse"]
    assert gbm["rmse"] < data["models"]["persistence"]["rmse"]
    assert gbm["calibration"] == pytest.approx(1.0, abs=0.1)
    # The gate window: the 2 days before the test, after every day the models learned from.
    assert data["trained_before"] == "2024-03-09"
    assert data["gate"]["start"] == "2024-03-09" and data["gate"]["days"] == 2
    assert set(data["gate"]["models"]) == set(data["models"])
    assert data["gate"]["models"]["lightgbm"]["rmse"] != gbm["rmse"]
    registry = Registry.from_settings(get_settings())
    tags = registry.client.get_model_version(registry.name("counts"), "1").tags
    numbers = json.loads(tags["gate_numbers"])  # the gate window's RMSEs, not the test's
    assert numbers["window"] == "2024-03-09 + 2 days" and tags["gate_decision"] == "promoted"
    assert numbers["challenger_rmse"] == data["gate"]["models"]["lightgbm"]["rmse"]
    assert numbers["base_rmse"] == data["gate"]["models"]["historical_average"]["rmse"]
    assert tags["gate_start"] == tags["trained_before"] == "2024-03-09"
    assert tags["test_start"] == "2024-03-11"
    report = (tmp_path / "var" / "reports" / "forecast" / "backtest_counts.md").read_text()
    assert "**gate window** 2024-03-09 + 2 days" in report
    assert "**test window** 2024-03-11 + 2 days" in report

    # A later window: its forecasts (the champion's, v1 or v2) join the first window's.
    later = _backtest(counts, tmp_path / "bt2.json", "2024-03-12", 1)
    assert later["gate"]["start"] == "2024-03-10"
    champion = registry.alias("counts", "champion")
    con = connect(tmp_path / "var" / "warehouse.duckdb", read_only=True)
    stored = con.execute(
        """SELECT model_version, timezone('America/Los_Angeles', slot_start)::DATE::VARCHAR,
                  bool_or(in_sample), count(DISTINCT unit_id)
           FROM forecasts WHERE unit_type = 'counts' GROUP BY ALL ORDER BY ALL"""
    ).fetchall()
    assert key_is_unique(con, "forecasts")
    con.close()
    first = [("1", "2024-03-11", False, 20), ("1", "2024-03-12", False, 20)]
    # v2 trained on days before 03-10: the 03-12 forecasts are out-of-sample either way.
    assert stored == sorted({*first, (champion, "2024-03-12", False, 20)})
