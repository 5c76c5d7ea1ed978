"""Backtesting a pre-aggregated counts table (another city's data, no telemetry)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from taxinav.cli import app
from taxinav.settings import get_settings

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


def test_backtest_on_a_counts_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXINAV_HOME", str(tmp_path / "var"))
    get_settings.cache_clear()
    counts = _city(tmp_path / "city.csv")
    out = tmp_path / "bt.json"
    result = CliRunner().invoke(
        app,
        [
            "forecast",
            "backtest",
            "--counts",
            str(counts),
            "--test-start",
            "2024-03-11",
            "--test-days",
            "2",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
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
