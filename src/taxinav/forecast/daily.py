"""The served forecasts of one local day: features from the stored demand counts, then the
``@champion`` model's and the base model's forecasts of every unit × slot (each function
replaces its day's rows in one transaction). A champion's rows of a day inside its training
window are labelled ``in_sample``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, Protocol

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from taxinav.calendar import Day
from taxinav.features import FEATURES
from taxinav.features.counts import CountSpec, stored_inputs
from taxinav.features.materialize import materialize
from taxinav.forecast.baselines import HistoricalAverage
from taxinav.roads import RoadGraph
from taxinav.warehouse import replace_rows

Predict = Callable[[Any], np.ndarray]


class ServedModel(Protocol):
    """A loaded model with its version and the first day its training data did not reach
    (``mlops.ModelCard`` is one)."""

    @property
    def version(self) -> str: ...

    @property
    def trained_before(self) -> date | None: ...

    @property
    def predict(self) -> Predict: ...


# A model for one unit type: a ServedModel, or (version, predict) when its training window is
# not known (its forecasts' ``in_sample`` is then NULL), or None.
ChampionLoader = Callable[[str], ServedModel | tuple[str, Predict] | None]
SPAN = "slot_start >= ? AND slot_start < ?"


def features_day(
    con: duckdb.DuckDBPyConnection, spec: CountSpec, graph: RoadGraph, unit: str, d: Day
) -> dict[str, Any]:
    """Replace the day's ``unit_features`` rows of ``unit`` (every unit × slot of the day)."""
    inputs = stored_inputs(con, spec, graph, unit, d)
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
    unit: str,
    d: Day,
    champion: ChampionLoader,
    valid_days: int,
) -> dict[str, Any]:
    """Forecast every unit × slot of the day with the champion (when one is registered) and
    the base model (historical average tuned on the ``valid_days`` days before); replace
    both. The champion's rows are ``in_sample`` when the day is before its ``trained_before``
    (NULL when that is not known); the base model's never are."""
    today = feature_frame(con, unit, d.start, d.end)
    if today.empty:
        raise LookupError(f"no {unit} features for {d.day}; materialise the features first")
    back = d.start - timedelta(days=valid_days)
    tuning = feature_frame(con, unit, back, d.start, complete_only=True)
    base = HistoricalAverage()
    if not tuning.empty:
        base.fit(tuning, tuning)
    preds = {"base": base.predict(today)}
    out: dict[str, Any] = {"rows": len(today), "base_choice": base.choice, "champion": None}
    label: dict[str, tuple[str, bool | None]] = {"base": ("", False)}
    loaded = champion(unit)
    if loaded is not None:
        if isinstance(loaded, tuple):
            version, predict, before = loaded[0], loaded[1], None
        else:
            version, predict, before = loaded.version, loaded.predict, loaded.trained_before
        in_sample = None if before is None else d.day < before
        out["champion"], out["champion_in_sample"] = version, in_sample
        out["champion_trained_before"] = before.isoformat() if before else None
        preds["champion"] = predict(today[list(FEATURES)].astype(np.float32))
        label["champion"] = (version, in_sample)
    n = len(today)
    tables = [
        pa.table(
            {
                "unit_type": [unit] * n,
                "model": [model] * n,
                "unit_id": today["unit_id"].astype(str).tolist(),
                "slot_start": pa.array(today["slot_start"], pa.timestamp("us", tz="UTC")),
                "yhat": np.clip(np.asarray(p, dtype=np.float64), 0.0, None),
                "model_version": pa.array([label[model][0]] * n, pa.string()),
                "in_sample": pa.array([label[model][1]] * n, pa.bool_()),
            }
        )
        for model, p in preds.items()
    ]
    # The day's partition: its champion rows of every version and its base rows.
    replace_rows(
        con,
        {"forecasts": pa.concat_tables(tables)},
        f"unit_type = ? AND model IN ('champion', 'base') AND {SPAN}",
        [unit, d.start, d.end],
    )
    return out
