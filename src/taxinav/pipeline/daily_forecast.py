"""One local day of forecasting: features from the stored demand counts, forecasts of the
``@champion`` model and the base model, and their realised accuracy with alerts.

Like ``pipeline/daily.py``, every function replaces its day's rows in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from taxinav.features import FEATURES, DemandInputs
from taxinav.features.calendar import local_midnight
from taxinav.features.materialize import materialize
from taxinav.features.online import unit_inputs
from taxinav.forecast.baselines import HistoricalAverage
from taxinav.mlops.monitoring import Monitor, accuracy_alerts, realised_errors
from taxinav.pipeline.daily import Day
from taxinav.roads import RoadGraph
from taxinav.settings import Settings
from taxinav.warehouse import replace_rows

# A model for one unit type: (version, predict(features frame) -> pickups), or None.
ChampionLoader = Callable[[str], tuple[str, Callable[[Any], np.ndarray]] | None]
SPAN = "slot_start >= ? AND slot_start < ?"


def stored_inputs(
    con: duckdb.DuckDBPyConnection, settings: Settings, graph: RoadGraph, unit: str, d: Day
) -> DemandInputs:
    """Feature inputs from ``demand_counts``, from the first partition through day ``d``."""
    origin = local_midnight(settings.pipeline.first_day, settings.tz)
    counts = con.sql(
        """SELECT unit_id, slot_start, pickups, vacant FROM demand_counts
           WHERE unit_type = $u AND slot_start >= $o AND slot_start < $e""",
        params={"u": unit, "o": origin, "e": d.end},
    ).to_arrow_table()
    return inputs_from_counts(settings, graph, unit, counts, d.end)


def inputs_from_counts(
    settings: Settings, graph: RoadGraph, unit: str, counts: pa.Table, end: datetime
) -> DemandInputs:
    """Feature inputs from counts (unit_id, slot_start, pickups, vacant) for the slots from
    the first partition's midnight up to ``end`` — the pipeline's and the live service's."""
    f = settings.forecast
    origin = local_midnight(settings.pipeline.first_day, settings.tz)
    return unit_inputs(graph, unit, counts, origin, end, f.slot_minutes, f.h3_resolution,
                       settings.tz)  # fmt: skip


def features_day(
    con: duckdb.DuckDBPyConnection, settings: Settings, graph: RoadGraph, unit: str, d: Day
) -> dict[str, Any]:
    """Replace the day's ``unit_features`` rows of ``unit`` (every unit × slot of the day)."""
    inputs = stored_inputs(con, settings, graph, unit, d)
    scratch = materialize(con, inputs, f"_daily_features_{unit}")
    step = 60 * inputs.slot_minutes
    first = inputs.slot_at(d.start)
    x = ", ".join(f"{c}::DOUBLE" for c in FEATURES)
    rows = con.sql(
        f"""SELECT $u AS unit_type, unit_id, $o::TIMESTAMPTZ + to_seconds(slot * {step})
                   AS slot_start, y::DOUBLE AS y, y_complete::INTEGER AS y_complete, [{x}] AS x
            FROM {scratch} WHERE slot >= {first} ORDER BY slot, unit_id""",
        params={"u": unit, "o": inputs.origin},
    ).to_arrow_table()
    con.execute(f"DROP TABLE {scratch}")
    replace_rows(con, {"unit_features": rows}, f"unit_type = ? AND {SPAN}", [unit, d.start, d.end])
    complete = int(np.sum(rows["y_complete"].to_numpy()))
    return {"rows": rows.num_rows, "units": int(inputs.units.num_rows), "complete_y": complete}


def feature_frame(
    con: duckdb.DuckDBPyConnection, unit: str, start: Any, end: Any, complete_only: bool = False
) -> pd.DataFrame:
    """``unit_features`` rows as a frame with one column per feature (NULL → NaN)."""
    where = " AND y_complete = 1" if complete_only else ""
    t = con.sql(
        f"""SELECT unit_id, slot_start, y, y_complete, x FROM unit_features
            WHERE unit_type = ? AND {SPAN}{where} ORDER BY slot_start, unit_id""",
        params=[unit, start, end],
    ).to_arrow_table()
    frame = pd.DataFrame({c: t[c].to_pandas() for c in ("unit_id", "slot_start", "y_complete")})
    frame["y"] = t["y"].to_numpy()
    n = t.num_rows
    values = t["x"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    matrix = np.asarray(values, dtype=np.float64).reshape(n, len(FEATURES))
    for i, name in enumerate(FEATURES):
        frame[name] = matrix[:, i]
    return frame


def forecasts_day(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    unit: str,
    d: Day,
    champion: ChampionLoader,
) -> dict[str, Any]:
    """Forecast every unit × slot of the day with the champion (when one is registered) and
    the base model (historical average tuned on the preceding days); replace both."""
    today = feature_frame(con, unit, d.start, d.end)
    if today.empty:
        raise LookupError(f"no {unit} features for {d.day}; materialise the features first")
    back = d.start - timedelta(days=settings.forecast.valid_days)
    tuning = feature_frame(con, unit, back, d.start, complete_only=True)
    base = HistoricalAverage()
    if not tuning.empty:
        base.fit(tuning, tuning)
    preds = {"base": base.predict(today)}
    out: dict[str, Any] = {"rows": len(today), "base_choice": base.choice, "champion": None}
    loaded = champion(unit)
    if loaded is not None:
        out["champion"], predict = loaded
        preds["champion"] = predict(today[list(FEATURES)].astype(np.float32))
    tables = [
        pa.table(
            {
                "unit_type": [unit] * len(today),
                "model": [model] * len(today),
                "unit_id": today["unit_id"].astype(str).tolist(),
                "slot_start": pa.array(today["slot_start"], pa.timestamp("us", tz="UTC")),
                "yhat": np.clip(np.asarray(p, dtype=np.float64), 0.0, None),
                "model_version": pa.array(
                    [out["champion"] if model == "champion" else None] * len(today), pa.string()
                ),
            }
        )
        for model, p in preds.items()
    ]
    replace_rows(
        con,
        {"forecasts": pa.concat_tables(tables)},
        f"unit_type = ? AND model IN ('champion', 'base') AND {SPAN}",
        [unit, d.start, d.end],
    )
    return out


def _served(con: duckdb.DuckDBPyConnection, unit: str, d: Day, tz: str) -> pd.DataFrame:
    """Actual 30-minute pickups beside the served forecasts, one row per unit × slot."""
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
    con: duckdb.DuckDBPyConnection, settings: Settings, unit: str, d: Day, monitor: Monitor
) -> dict[str, Any]:
    """Realised RMSE / MAE / masked MAPE per local hour of the champion and the base model;
    alerts (through ``monitor``) when the champion trails the base for K hours in a row."""
    served = _served(con, unit, d, settings.timezone)
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
            hour = pd.Timestamp(r["hour"]).tz_localize(settings.timezone).tz_convert("UTC")
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
