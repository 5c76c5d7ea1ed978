"""Forecast benchmark on the shared data (needs `make demo` to have filled the warehouse).

    python benchmarks/forecast.py

Prints, per unit type: feature build and training time, one-slot prediction latency, and the
backtest table on the last full week (2008-05-26 .. 06-01, with Memorial Day) and on an earlier
window, with the issue's targets checked. LightGBM runs as the training job serves it: tuned
parameters (``taxinav forecast tune``) when saved, the configured validation days and training
window. Exits 1, naming them, when targets are missed.
"""

from __future__ import annotations

import sys
import time
from datetime import date

import numpy as np
from rich.console import Console
from rich.table import Table

from taxinav.features.counts import CountSpec, demand_inputs
from taxinav.features.materialize import materialize
from taxinav.forecast import report
from taxinav.forecast.backtest import default_models, load_frame, run_backtest
from taxinav.forecast.gbm import GbmParams, LightGbmForecaster
from taxinav.mlops.tuning import best_params
from taxinav.settings import get_settings
from taxinav.warehouse import open_warehouse

WINDOWS = ((date(2008, 5, 26), 7), (date(2008, 5, 22), 3))


def main() -> None:
    settings = get_settings()
    console = Console()
    con = open_warehouse(settings)
    timing = Table(title="forecast timings (2 cores)")
    for h in ("unit", "inputs + features", "train LightGBM", "sum", "predict 1 slot (all units)"):
        timing.add_column(h)
    checks = Table(title="targets")
    for h in ("window", "unit", "target", "measured", "met"):
        checks.add_column(h)
    missed: list[str] = []
    for unit in ("h3", "road"):
        t0 = time.perf_counter()
        inputs = demand_inputs(con, CountSpec.of(settings), unit)
        table = materialize(con, inputs)
        t_feat = time.perf_counter() - t0
        zero_keep = settings.forecast.road_zero_keep if unit == "road" else 1.0
        # The served configuration, as in mlops.training.backtest.
        gbm_params = best_params(settings.home, inputs.unit_type, GbmParams(seed=settings.seed))
        for i, (start, days) in enumerate(WINDOWS):
            models = default_models(settings.seed, gbm_params)
            result, _, test = run_backtest(
                con, table, inputs, start, days, models, zero_keep=zero_keep,
                valid_days=settings.forecast.valid_days,
                train_days=settings.forecast.train_window_days,
            )  # fmt: skip
            out = result.to_json()
            _print(console, out)
            _check(checks, missed, f"{start}+{days}d", unit, out)
            if i == 0:
                gbm = next(m for m in models if isinstance(m, LightGbmForecaster))
                t_fit = result.seconds["load"] + result.seconds["fit_lightgbm"]
                slot = int(test["slot"].iloc[0])
                t1 = time.perf_counter()
                for k in range(10):
                    rows = load_frame(con, table, slot + k, slot + k + 1)
                    gbm.predict(rows)
                t_pred = (time.perf_counter() - t1) / 10
                timing.add_row(
                    unit,
                    f"{t_feat:.1f} s",
                    f"{t_fit:.1f} s",
                    f"{t_feat + t_fit:.1f} s (target ≤ 120)",
                    f"{t_pred * 1000:.0f} ms (target ≤ 1000)",
                )
                if t_feat + t_fit > 120:
                    missed.append(f"{unit}: features + training {t_feat + t_fit:.0f} s > 120 s")
                if t_pred > 1.0:
                    missed.append(f"{unit}: one-slot prediction {t_pred * 1000:.0f} ms > 1000 ms")
    console.print(timing)
    console.print(checks)
    if missed:
        console.print("[red]targets missed:[/red]\n" + "\n".join(f"  {m}" for m in missed))
        sys.exit(1)


def _print(console: Console, out: dict) -> None:  # type: ignore[type-arg]
    t = Table(title=f"{out['unit_type']} — test {out['test_start']} + {out['test_days']} days")
    for h in ("model", *report.COLUMNS):
        t.add_column(h)
    for row in report.table_rows(out):
        t.add_row(*row)
    console.print(t)
    console.print(report.headline(out))


def _check(table: Table, missed: list[str], window: str, unit: str, out: dict) -> None:  # type: ignore[type-arg]
    """Add a row per target to ``table``; name each missed one in ``missed``."""

    def row(target: str, measured: str, met: bool | np.bool_) -> None:
        table.add_row(window, unit, target, measured, _ok(met))
        if not met:
            missed.append(f"{window} {unit}: {target} (measured {measured})")

    m = out["models"]
    best = report.best_baseline(out)
    gbm = m["lightgbm"]
    gain = 1 - gbm["rmse"] / m[best]["rmse"]
    if unit == "h3":
        row("RMSE ≥ 15% below best baseline", f"{gain:.1%}", gain >= 0.15)
        return
    below_all = all(gbm["rmse"] < m[b]["rmse"] for b in report.BASELINES)
    capture = gbm["top10_capture"] - max(m[b]["top10_capture"] for b in report.BASELINES)
    row("RMSE below every baseline", f"{gain:.1%} below best", below_all)
    row("top-10% capture ≥ +3 points", f"{capture * 100:+.1f}", capture >= 0.03)
    row("calibration within ±5%", f"{gbm['calibration']:.3f}", abs(gbm["calibration"] - 1) <= 0.05)


def _ok(flag: bool | np.bool_) -> str:
    return "yes" if flag else "NO"


if __name__ == "__main__":
    main()
