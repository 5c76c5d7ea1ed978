"""Backtest report: side-by-side table (Markdown) and PNG plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from taxinav.plotting import save, subplots

BASELINES = ("historical_average", "seasonal_naive", "persistence")
COLUMNS = ("rmse", "mae", "wape", "masked_mape", "calibration", "top10_capture")


def best_baseline(result: dict[str, Any]) -> str:
    present = [m for m in BASELINES if m in result["models"]]
    return min(present, key=lambda m: result["models"][m]["rmse"])


def _row(name: str, m: dict[str, Any]) -> list[str]:
    return [name, *(f"{m[c]:.4f}" if c != "top10_capture" else f"{m[c]:.3f}" for c in COLUMNS)]


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    """The test window's scores of every model, and the noise floor."""
    rows = [_row(name, m) for name, m in result["models"].items()]
    rows.append(["noise floor (oracle)", f"{result['noise_floor_rmse']:.4f}", *[""] * 5])
    return rows


def gate_rows(result: dict[str, Any]) -> list[list[str]]:
    """The gate window's scores of every model (none without a gate window)."""
    gate = result.get("gate") or {}
    return [_row(name, m) for name, m in gate.get("models", {}).items()]


def windows(result: dict[str, Any]) -> str:
    """Which days the models learned from, decided on and were tested on."""
    gate = result.get("gate") or {}
    before = result.get("trained_before") or result["test_start"]
    text = f"Models were fitted on days before {before}"
    if gate.get("days"):
        text += (
            f"; the promotion gate decided on the **gate window** {gate['start']} + "
            f"{gate['days']} days (after the training data, before the test window)"
        )
    test = f"{result['test_start']} + {result['test_days']} days"
    return (
        f"{text}. The **test window** {test} was scored once, after that decision, and is "
        "what this report shows."
    )


def headline(result: dict[str, Any]) -> str:
    best = best_baseline(result)
    gbm = result["models"].get("lightgbm")
    if gbm is None:
        return f"best baseline: {best}"
    base = result["models"][best]
    gain = 1 - gbm["rmse"] / base["rmse"]
    capture = gbm["top10_capture"] - max(
        result["models"][m]["top10_capture"] for m in BASELINES if m in result["models"]
    )
    return (
        f"LightGBM RMSE {gain:.1%} below the best baseline ({best}); top-10% capture "
        f"{capture * 100:+.1f} points vs best baseline; calibration "
        f"{gbm['calibration']:.3f}"
    )


def markdown(result: dict[str, Any], figures: list[Path]) -> str:
    head = ["model", *COLUMNS]
    lines = [
        f"# Demand backtest — {result['unit_type']} units",
        "",
        f"Test window {result['test_start']} + {result['test_days']} days (local time), "
        f"{result['n_units']:,} units, {result['n_test_rows']:,} unit-slots. "
        f"Target: pickups in the next {result.get('horizon_min', 30)} minutes.",
        "",
        windows(result),
        "",
        f"**Test window: {headline(result)}**",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in table_rows(result)),
        "",
    ]
    gate = gate_rows(result)
    if gate:
        g = result["gate"]
        lines += [
            f"## Gate window {g['start']} + {g['days']} days (the promotion decision)",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
            *("| " + " | ".join(r) + " |" for r in gate),
            "",
        ]
    ha = result["details"].get("historical_average")
    if ha:
        lines += [f"Historical-average pooling chosen on the validation days: `{ha['choice']}`", ""]
    lines += [f"![{f.stem}]({f.name})" for f in figures]
    return "\n".join(lines) + "\n"


def plots(
    result: dict[str, Any], test: pd.DataFrame, preds: dict[str, np.ndarray], out_dir: Path
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    unit = result["unit_type"]
    paths = []

    fig, ax = subplots(figsize=(8, 4), dpi=110)
    for name, m in result["models"].items():
        hours = sorted(int(h) for h in m["by_hour"])
        ax.plot(hours, [m["by_hour"][h]["rmse"] for h in hours], marker="o", ms=3, label=name)
    ax.set_xlabel("hour of day (local)")
    horizon, slot = result.get("horizon_min", 30), result.get("slot_minutes", 10)
    ax.set_ylabel(f"RMSE, pickups per {horizon} min")
    ax.set_title(f"Error by hour — {unit} units")
    ax.legend()
    paths.append(save(fig, out_dir / f"{unit}_rmse_by_hour.png"))

    rate = test.groupby("unit_id")["unit_rate"].first()
    busy = set(rate.nlargest(max(1, len(rate) // 10)).index)
    mask = test["unit_id"].isin(busy).to_numpy()
    frame = pd.DataFrame({"slot": test["slot"][mask], "actual": test["y"][mask]})
    for name in ("lightgbm", best_baseline(result)):
        if name in preds:
            frame[name] = preds[name][mask]
    per_slot = frame.groupby("slot").sum()
    fig, ax = subplots(figsize=(11, 4), dpi=110)
    ax.plot(per_slot.index, per_slot["actual"], color="black", lw=0.8, label="actual")
    for name in per_slot.columns.drop("actual"):
        ax.plot(per_slot.index, per_slot[name], lw=1.0, label=name)
    ax.set_xlabel(f"slot ({slot} min)")
    ax.set_ylabel(f"pickups in next {horizon} min, busiest 10% of units")
    ax.set_title(f"Predicted vs actual — busiest {len(busy)} {unit} units")
    ax.legend()
    paths.append(save(fig, out_dir / f"{unit}_busy_units.png"))

    importance = result["details"].get("lightgbm", {}).get("importance", {})
    if importance:
        items = sorted(importance.items(), key=lambda kv: kv[1])
        fig, ax = subplots(figsize=(7, 6), dpi=110)
        ax.barh([k for k, _ in items], [v for _, v in items], color="#3b6ea5")
        ax.set_xlabel("share of total gain")
        ax.set_title(f"LightGBM feature importance — {unit} units")
        paths.append(save(fig, out_dir / f"{unit}_importance.png"))
    return paths
