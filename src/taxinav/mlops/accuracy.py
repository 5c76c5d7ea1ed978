"""Realised accuracy of the served forecasts: RMSE / MAE / masked MAPE per local hour of the
champion and the base model, and alerts when the champion trails the base."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from taxinav.calendar import Day
from taxinav.mlops.monitoring import Monitor, accuracy_alerts, realised_errors
from taxinav.warehouse import replace_rows

SPAN = "slot_start >= ? AND slot_start < ?"


def _served(con: duckdb.DuckDBPyConnection, unit: str, d: Day, tz: str) -> pd.DataFrame:
    """Actual pickups over the horizon beside the served forecasts, one row per unit × slot."""
    frame: pd.DataFrame = con.sql(
        """SELECT f.unit_id, f.slot_start, f.y,
                   date_trunc('hour', timezone($tz, f.slot_start)) AS hour,
                   c.yhat AS champion, b.yhat AS base
            FROM unit_features f
            JOIN forecasts b ON b.unit_type = f.unit_type AND b.model = 'base'
                 AND b.unit_id = f.unit_id AND b.slot_start = f.slot_start
            LEFT JOIN forecasts c ON c.unit_type = f.unit_type AND c.model = 'champion'
                 AND c.unit_id = f.unit_id AND c.slot_start = f.slot_start
            WHERE f.unit_type = $u AND f.y_complete = 1
              AND f.slot_start >= $s AND f.slot_start < $e
            ORDER BY f.slot_start, f.unit_id""",
        params={"u": unit, "s": d.start, "e": d.end, "tz": tz},
    ).df()
    return frame


def accuracy_day(
    con: duckdb.DuckDBPyConnection, tz: ZoneInfo, unit: str, d: Day, monitor: Monitor
) -> dict[str, Any]:
    """Realised RMSE / MAE / masked MAPE per local hour of the champion and the base model;
    alerts (through ``monitor``) when the champion trails the base for K hours in a row."""
    served = _served(con, unit, d, tz.key)
    champion_version = _one_value(
        con,
        f"SELECT min(model_version) FROM forecasts WHERE unit_type = ? "
        f"AND model = 'champion' AND {SPAN}",
        [unit, d.start, d.end],
    )
    has_champion = bool(len(served)) and bool(served["champion"].notna().all())
    served["champion"] = served["champion"].fillna(served["base"])
    errors = realised_errors(served) if len(served) else pd.DataFrame()
    rows = []
    for model in ("champion", "base") if has_champion else ("base",):
        for r in errors.to_dict("records"):
            hour = pd.Timestamp(r["hour"]).tz_localize(tz.key).tz_convert("UTC")
            rows.append(
                {
                    "unit_type": unit,
                    "model": model,
                    "model_version": champion_version or "" if model == "champion" else "",
                    "hour_start": hour.to_pydatetime(),
                    "n": int(r["n"]),
                    "rmse": float(r[f"{model}_rmse"]),
                    "mae": float(r[f"{model}_mae"]),
                    "masked_mape": _finite(r[f"{model}_masked_mape"]),
                }
            )
    table = pa.Table.from_pylist(rows, schema=_ACCURACY_SCHEMA)
    replace_rows(
        con,
        {"forecast_accuracy": table},
        "unit_type = ? AND hour_start >= ? AND hour_start < ?",
        [unit, d.start, d.end],
    )
    alerts = []
    if has_champion:
        _replay_history(con, monitor, unit, d)
        alerts = accuracy_alerts(monitor, errors)
    out: dict[str, Any] = {
        "hours": len(errors),
        "alerts": [a.message for a in alerts],
        "champion_version": champion_version,
    }
    for model in ("champion", "base") if has_champion else ("base",):
        y = served["y"].to_numpy()
        p = served[model].to_numpy()
        out[f"{model}_rmse"] = float(np.sqrt(np.mean((y - p) ** 2))) if len(y) else None
    return out


def _one_value(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> Any:
    rows = con.execute(sql, params).fetchall()
    return rows[0][0] if rows else None


def _finite(v: Any) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


def _replay_history(con: duckdb.DuckDBPyConnection, monitor: Monitor, unit: str, d: Day) -> None:
    """Bring the monitor's episode state up to the day silently, from the stored hours before
    it, so a streak that started yesterday continues and an ongoing episode does not re-fire."""
    past = con.execute(
        """SELECT c.hour_start, c.rmse, b.rmse FROM forecast_accuracy c
           JOIN forecast_accuracy b ON b.unit_type = c.unit_type AND b.model = 'base'
                AND b.hour_start = c.hour_start
           WHERE c.unit_type = ? AND c.model = 'champion' AND c.hour_start < ?
           ORDER BY c.hour_start""",
        [unit, d.start],
    ).fetchall()
    monitor.reset_accuracy()
    sinks, monitor.sinks = monitor.sinks, []
    n_sent = len(monitor.sent)
    try:
        for hour, champion_rmse, base_rmse in past:
            monitor.accuracy_window(str(hour), float(champion_rmse), float(base_rmse))
    finally:
        monitor.sinks = sinks
        del monitor.sent[n_sent:]


_ACCURACY_SCHEMA = pa.schema(
    [
        ("unit_type", pa.string()),
        ("model", pa.string()),
        ("model_version", pa.string()),
        ("hour_start", pa.timestamp("us", tz="UTC")),
        ("n", pa.int64()),
        ("rmse", pa.float64()),
        ("mae", pa.float64()),
        ("masked_mape", pa.float64()),
    ]
)
