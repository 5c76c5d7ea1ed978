"""Online features and forecasts: the pipeline's feature expression over the stored history
plus the live counts, scored by the champion for the current slot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from taxinav.features import FEATURES
from taxinav.features.counts import CountSpec, inputs_from_counts
from taxinav.features.materialize import materialize
from taxinav.features.online import SlotFeatures
from taxinav.roads import RoadGraph
from taxinav.settings import Settings

FloatArray = NDArray[np.float64]

Predict = Callable[[pd.DataFrame], np.ndarray]


def merge_counts(history: pa.Table, live: pa.Table, since: datetime) -> pa.Table:
    """Stored counts before ``since`` and live counts from it (unit_id, slot_start, pickups,
    vacant)."""
    cols = ["unit_id", "slot_start", "pickups", "vacant"]
    con = duckdb.connect()
    try:
        con.register("h", history.select(cols))
        con.register("l", live.select(cols))
        return con.sql(
            "SELECT * FROM h WHERE slot_start < $s UNION ALL "
            "SELECT * FROM l WHERE slot_start >= $s ORDER BY slot_start, unit_id",
            params={"s": since},
        ).to_arrow_table()
    finally:
        con.close()


def online_features(
    settings: Settings, graph: RoadGraph, unit: str, counts: pa.Table, start: datetime,
    end: datetime,
) -> pd.DataFrame:  # fmt: skip
    """Features of every unit for the slots starting in [start, end), from ``counts``."""
    inputs = inputs_from_counts(CountSpec.of(settings), graph, unit, counts, end)
    con = duckdb.connect()
    try:
        table = materialize(con, inputs, "online_features")
        first = inputs.slot_at(start)
        frame: pd.DataFrame = con.sql(
            f"SELECT * FROM {table} WHERE slot >= {first} ORDER BY slot, unit_id"
        ).df()
    finally:
        con.close()
    frame["slot_start"] = [inputs.slotting.start(inputs.origin, int(s)) for s in frame["slot"]]
    for name in FEATURES:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(np.float64)
    return frame


@dataclass(frozen=True)
class LiveForecast:
    """Pickups over the horizon from one slot, per unit (aligned arrays)."""

    slot_start: datetime
    model: str  # "champion" or "base"
    unit_id: list[str]
    yhat: FloatArray  # what is served: the champion's, the base model's without one
    base: FloatArray  # the base model's (the historical average feature)
    supply: FloatArray  # vacant taxis in the unit in the last slot
    recent: FloatArray  # pickups in the unit in the last 30 minutes


def forecast_now(
    settings: Settings, graph: RoadGraph, unit: str, counts: pa.Table, now: datetime,
    predict: Predict | None, base_column: str = "ha_all",
) -> LiveForecast:  # fmt: skip
    """Pickups over the forecast horizon per unit, from the slot containing ``now`` (its row
    uses only complete earlier slots; computed for that slot alone): the champion's (``yhat``;
    the base model's when there is none) and the base model's (``base``, the historical
    average column)."""
    spec = CountSpec.of(settings)
    slot = spec.slotting.floor(now)
    end = slot + timedelta(seconds=spec.slotting.slot_s)
    state = SlotFeatures(inputs_from_counts(spec, graph, unit, counts, end))
    return _score(state.row(state.n_slots - 1), state.units, slot, predict, base_column)


def _score(row: FloatArray, units: list[str], slot: datetime, predict: Predict | None,
           base_column: str) -> LiveForecast:  # fmt: skip
    """The champion's (or the base model's) and the base model's forecasts from one slot's
    feature row of every unit."""
    frame = pd.DataFrame(row, columns=list(FEATURES))
    frame.insert(0, "unit_id", units)
    base = np.nan_to_num(frame[base_column].to_numpy(dtype=np.float64), nan=0.0)
    if predict is not None:
        x = frame[list(FEATURES)].astype(np.float32)
        yhat = np.clip(np.asarray(predict(x), dtype=np.float64), 0.0, None)
    else:
        yhat = base
    return LiveForecast(
        slot, "champion" if predict is not None else "base",
        frame["unit_id"].astype(str).tolist(), yhat, base,
        frame["sup10"].fillna(0).to_numpy(dtype=np.float64),
        frame["r30"].fillna(0).to_numpy(dtype=np.float64),
    )  # fmt: skip


class DayForecaster:
    """The live forecast of one unit type through one local day, as :func:`forecast_now`
    computes it, without rebuilding the feature state at every refresh: the state is built
    once from the stored counts before the day, and each call splices in the live counts of
    the day so far (``SlotFeatures.set_live``)."""

    def __init__(self, settings: Settings, graph: RoadGraph, unit: str, history: pa.Table,
                 origin: datetime) -> None:  # fmt: skip
        self.spec = CountSpec.of(settings)
        self.origin = origin
        before = history.filter(pc.less(history["slot_start"], origin))
        inputs = inputs_from_counts(self.spec, graph, unit, before, origin + timedelta(days=1))
        self.state = SlotFeatures(inputs)
        self.first = inputs.slot_at(origin)
        self.index = {u: i for i, u in enumerate(self.state.units)}

    def forecast(self, live: pa.Table, now: datetime, predict: Predict | None,
                 base_column: str = "ha_all") -> LiveForecast | None:  # fmt: skip
        """The forecast of the slot containing ``now``; None when it is not in the day."""
        sl = self.spec.slotting
        slot = sl.floor(now)
        k = sl.index(slot, self.origin)
        if not 0 <= k < sl.per_day:
            return None
        pickups = np.zeros((len(self.state.units), k + 1))
        vacant = np.zeros_like(pickups)
        cols = live.to_pydict()
        for u, start, n, v in zip(cols["unit_id"], cols["slot_start"], cols["pickups"],
                                  cols["vacant"], strict=True):  # fmt: skip
            i, j = self.index.get(u), sl.index(start, self.origin)
            if i is not None and 0 <= j <= k:
                pickups[i, j] += n
                vacant[i, j] += v
        self.state.set_live(self.first, pickups, vacant)
        return _score(self.state.row(self.first + k), self.state.units, slot, predict,
                      base_column)  # fmt: skip
