"""Realised accuracy of the served forecasts: RMSE / MAE / masked MAPE per local hour of the
champion and the base model, and alerts when the champion trails the base.

Hours whose champion forecasts came from a model version trained on that day (``in_sample``)
are stored and labelled, but they never feed the alerts or the headline RMSE: a model scored on
its own training data says nothing about how it serves."""

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

# One stored row per unit × slot and model: out-of-sample before unknown before in-sample,
# then the newest registered version (versions are whole numbers; '' sorts last).
PICK_ONE = """row_number() OVER (PARTITION BY {cols} ORDER BY
    CASE WHEN in_sample IS NULL THEN 1 WHEN in_sample THEN 2 ELSE 0 END,
    TRY_CAST(model_version AS BIGINT) DESC NULLS LAST, model_version DESC) = 1"""


def _served(con: duckdb.DuckDBPyConnection, unit: str, d: Day, tz: str) -> pd.DataFrame:
    """Actual pickups over the horizon beside the served forecasts, one row per unit × slot
    (``version`` and ``in_sample`` of the champion row; NULL without one)."""
    pick = PICK_ONE.format(cols="unit_id, slot_start")
    frame: pd.DataFrame = con.sql(
        f"""WITH day AS (
                SELECT * FROM forecasts WHERE unit_type = $u
                  AND slot_start >= $s AND slot_start < $e),
            b AS (SELECT * FROM day WHERE model = 'base' QUALIFY {pick}),
            c AS (SELECT * FROM day WHERE model = 'champion' QUALIFY {pick})
            SELECT f.unit_id, f.slot_start, f.y,
                   date_trunc('hour', timezone($tz, f.slot_start)) AS hour,
                   c.yhat AS champion, b.yhat AS base, c.model_version AS version,
                   c.in_sample
            FROM unit_features f
            JOIN b ON b.unit_id = f.unit_id AND b.slot_start = f.slot_start
            LEFT JOIN c ON c.unit_id = f.unit_id AND c.slot_start = f.slot_start
            WHERE f.unit_type = $u AND f.y_complete = 1
              AND f.slot_start >= $s AND f.slot_start < $e
            ORDER BY f.slot_start, f.unit_id""",
        params={"u": unit, "s": d.start, "e": d.end, "tz": tz},
    ).df()
    return frame


def _hour_labels(served: pd.DataFrame) -> pd.DataFrame:
    """Per hour: the champion version (the newest, should an hour hold two) and whether any of
    its forecasts were in-sample (NULL: not known for every row)."""
    champ = served[served["champion"].notna()]
    rows = []
    for hour, g in champ.groupby("hour", sort=True):
        flags = [_flag(v) for v in g["in_sample"]]
        inside = True if any(flags) else None if None in flags else False
        versions = sorted({_text(v) for v in g["version"]} - {""}, key=_version_key)
        rows.append({"hour": hour, "version": versions[-1] if versions else "",
                     "in_sample": inside})  # fmt: skip
    return pd.DataFrame(rows, columns=["hour", "version", "in_sample"])


def _version_key(v: str) -> tuple[int, str]:
    return (int(v), v) if v.isdigit() else (-1, v)


def accuracy_day(
    con: duckdb.DuckDBPyConnection, tz: ZoneInfo, unit: str, d: Day, monitor: Monitor
) -> dict[str, Any]:
    """Realised RMSE / MAE / masked MAPE per local hour of the champion and the base model,
    each hour labelled ``in_sample`` when the champion had trained on its day; alerts
    (through ``monitor``) when the champion trails the base for K out-of-sample hours in a row.

    Returns ``champion_rmse`` and ``base_rmse`` over the out-of-sample hours only (the
    headline; both None when every hour is in-sample), and — when there are in-sample hours —
    ``champion_rmse_in_sample`` / ``base_rmse_in_sample`` over those."""
    served = _served(con, unit, d, tz.key)
    has_champion = bool(len(served)) and bool(served["champion"].notna().all())
    served["champion"] = served["champion"].fillna(served["base"])
    errors = realised_errors(served) if len(served) else pd.DataFrame(columns=["hour", "n"])
    if has_champion:
        errors = errors.merge(_hour_labels(served), on="hour", how="left")
    else:
        errors = errors.assign(version="", in_sample=None)
    inside = errors["in_sample"].eq(True).to_numpy(dtype=bool)  # NULL (unknown) counts as out
    rows = []
    for model in ("champion", "base") if has_champion else ("base",):
        for r in errors.to_dict("records"):
            hour = pd.Timestamp(r["hour"]).tz_localize(tz.key).tz_convert("UTC")
            rows.append(
                {
                    "unit_type": unit,
                    "model": model,
                    "model_version": _text(r["version"]) if model == "champion" else "",
                    "hour_start": hour.to_pydatetime(),
                    "n": int(r["n"]),
                    "rmse": float(r[f"{model}_rmse"]),
                    "mae": float(r[f"{model}_mae"]),
                    "masked_mape": _finite(r[f"{model}_masked_mape"]),
                    "in_sample": _flag(r["in_sample"]) if model == "champion" else False,
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
        alerts = accuracy_alerts(monitor, errors[~inside])
    versions = sorted({_text(v) for v in errors["version"]} - {""}, key=_version_key)
    out: dict[str, Any] = {
        "hours": len(errors),
        "in_sample_hours": int(inside.sum()),
        "alerts": [a.message for a in alerts],
        "champion_version": ",".join(versions) or None,
    }
    row_inside = served["hour"].isin(errors.loc[inside, "hour"]).to_numpy(dtype=bool)
    for model in ("champion", "base") if has_champion else ("base",):
        out[f"{model}_rmse"] = _rmse(served, model, ~row_inside)
        if inside.any():
            out[f"{model}_rmse_in_sample"] = _rmse(served, model, row_inside)
    return out


def _rmse(served: pd.DataFrame, model: str, mask: np.ndarray) -> float | None:
    y = served["y"].to_numpy()[mask]
    p = served[model].to_numpy()[mask]
    return float(np.sqrt(np.mean((y - p) ** 2))) if len(y) else None


def _text(v: Any) -> str:
    return "" if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v)


def _flag(v: Any) -> bool | None:
    return None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else bool(v)


def _finite(v: Any) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


def _replay_history(con: duckdb.DuckDBPyConnection, monitor: Monitor, unit: str, d: Day) -> None:
    """Bring the monitor's episode state up to the day silently, from the stored
    out-of-sample hours before it, so a streak that started yesterday continues and an ongoing
    episode does not re-fire."""
    past = con.execute(
        """SELECT c.hour_start, c.rmse, b.rmse FROM forecast_accuracy c
           JOIN forecast_accuracy b ON b.unit_type = c.unit_type AND b.model = 'base'
                AND b.hour_start = c.hour_start
           WHERE c.unit_type = ? AND c.model = 'champion' AND c.hour_start < ?
             AND c.in_sample IS NOT TRUE
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
        ("in_sample", pa.bool_()),
    ]
)
