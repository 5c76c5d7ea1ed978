"""The evaluation's comparisons from synthetic runs whose differences are known by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from taxinav.guidance.evaluate import Protocol, Task
from taxinav.guidance.evaluation_report import markdown, plot, summarize
from taxinav.settings import Settings


def _group(median: float, revenue: float) -> dict[str, Any]:
    return {"vacant_before_pickup": {"median_min": median, "mean_min": 2 * median},
            "pickups_per_vacant_h": 4.0, "revenue_per_present_h": revenue}  # fmt: skip


def _kpis(task: Task) -> dict[str, Any]:
    served = {"fleet-coordinated": 1030, "fleet-independent": 800, "fleet-historical": 1000}
    g0 = {"mixed": _group(4.0, 22.0), "heatmap": _group(5.0, 20.0)}.get(task.arm, _group(4.4, 21.0))
    return {"served": served.get(task.arm, 1000), "lost": 100, "requests": 1100,
            "groups": {0: g0, 1: _group(5.0, 20.0)},
            "demand": {"0": {"source": "closed loop", "version": "7"}}}  # fmt: skip


def test_every_comparison_of_a_full_protocol(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    protocol = Protocol(date(2008, 5, 29), 2, 2)
    tasks = protocol.tasks(settings)
    # main: 5 arms × 2 days × 2 seeds; bounds: 3 × 2 days × 1 seed; grid: 8 cells + 2 extras
    assert len(tasks) == 20 + 6 + 10
    results = [{"task": t, "kpis": _kpis(t), "seconds": 1.0, "policies": ["guided"]}
               for t in tasks]  # fmt: skip
    window = {"start": "2008-05-29", "days": 2, "seeds": 2, "grid_day": "2008-05-29",
              "grid_seeds": 1, "patience_s": 300.0, "radius_m": 100.0, "protocol": "p"}  # fmt: skip
    res = summarize(results, window, seed=1, seconds=60.0)
    by = {(c.name, c.kpi): c for c in res.comparisons}
    # guided 4.0 vs historical 5.0 min: −20 % in each of the 4 runs; revenue 22 vs 20: +10 %
    median = by["20 % guided vs historical taxis", "median"]
    assert median.values == pytest.approx([-20.0] * 4) and median.met is True
    assert by["20 % guided vs historical taxis", "revenue_per_shift_h"].mean == pytest.approx(10)
    # guided 22 vs heatmap 20 per shift hour: +10 %
    assert by["20 % guided vs 20 % heatmap", "revenue_per_shift_h"].met is True
    assert by["100 % coordinated vs historical", "served"].values == pytest.approx([3.0] * 4)
    assert by["100 % coordinated vs independent", "served"].mean == pytest.approx(28.75)
    # the leak ablation on 2 days × 1 seed: 4.0 vs 4.4 min
    leak = by["closed loop vs precomputed forecasts (leak)", "median"]
    assert len(leak.values) == 2 and leak.mean == pytest.approx(100 * (4.0 - 4.4) / 4.4)
    # 9 patience × radius cells (the default one from the main runs) + 2 rival cells
    assert len(res.grid) == 11
    assert res.demand == {"source": "closed loop", "version": "7"}
    assert res.fleet["fleet-coordinated"]["served"] == 1030
    assert "| 20 % guided vs historical taxis | median | -20.0 |" in markdown(res)
    assert plot(res, tmp_path / "e.png").stat().st_size > 0
    assert not res.failed()
