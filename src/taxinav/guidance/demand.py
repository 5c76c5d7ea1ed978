"""Where a guided fleet's demand comes from: a forecast made the way the deployed service
makes it (closed loop), or a labelled stand-in (stored forecasts, the day's real pickups,
historical means). Every source says what it is, so a result can state what it routed on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from taxinav.features import FEATURES, Slotting
from taxinav.features.online import SlotFeatures, unit_inputs
from taxinav.guidance.telemetry import FixStream
from taxinav.mlops.registry import ModelCard
from taxinav.roads import RoadGraph

FloatArray = NDArray[np.float64]
DEMAND_SOURCES = ("closed-loop", "stored", "oracle", "historical")


class DemandSource(Protocol):
    @property
    def label(self) -> dict[str, Any]:
        """What the demand is: source, and the model's name, version and training window."""
        ...

    def at(self, t: float) -> FloatArray:
        """Pickups per second on each segment expected from ``t`` on (s since midnight)."""
        ...


@dataclass(frozen=True)
class SlotDemand:
    """A rate per slot fixed in advance: stored forecasts, real pickups, historical means."""

    rate: FloatArray  # [slots, segments], pickups per second
    slot_s: float
    label: dict[str, Any]

    def at(self, t: float) -> FloatArray:
        out: FloatArray = self.rate[min(max(int(t // self.slot_s), 0), self.rate.shape[0] - 1)]
        return out


def historical_demand(hourly: FloatArray, hour0: int, slot_s: float, n_slots: int,
                      label: dict[str, Any]) -> SlotDemand:  # fmt: skip
    """Per-hour mean pickups ``hourly`` [24, n] of the days before, as a rate per slot."""
    hours = (hour0 + (np.arange(n_slots) * slot_s // 3600).astype(np.int64)) % 24
    return SlotDemand(hourly[hours] / 3600.0, slot_s, label)


def oracle_demand(con: duckdb.DuckDBPyConnection, n: int, origin: datetime, slot_s: float,
                  n_slots: int, horizon_slots: int) -> SlotDemand:  # fmt: skip
    """The day's real pickups in the horizon from each slot: an upper bound, never a
    deployable source (it sees the future and the simulator's own requests)."""
    rows = con.sql(
        """SELECT unit_id::BIGINT, (epoch(slot_start) - epoch($o::TIMESTAMPTZ)) // $step,
                  pickups FROM demand_counts
           WHERE unit_type = 'road' AND slot_start >= $o AND slot_start < $e""",
        params={"o": origin, "e": origin + timedelta(days=1), "step": slot_s},
    ).fetchnumpy()
    unit, slot, count = (np.asarray(v) for v in rows.values())
    per_slot = np.zeros((n_slots + horizon_slots, n))
    np.add.at(per_slot, (slot.astype(np.int64), unit.astype(np.int64)), count)
    ahead = np.zeros((n_slots, n))
    for k in range(horizon_slots):
        ahead += per_slot[k : k + n_slots]
    return SlotDemand(ahead / (horizon_slots * slot_s), slot_s,
                      {"source": "oracle (the day's real pickups)", "model": None})  # fmt: skip


def road_history(con: duckdb.DuckDBPyConnection, first: datetime, origin: datetime) -> pa.Table:
    """Stored road demand counts from ``first`` up to the day's ``origin``."""
    return con.sql(
        """SELECT unit_id, slot_start, pickups, vacant FROM demand_counts
           WHERE unit_type = 'road' AND slot_start >= $f AND slot_start < $o""",
        params={"f": first, "o": origin},
    ).to_arrow_table()


def check_model_window(card: ModelCard, day: date) -> None:
    """Refuse to route ``day`` on a model whose training data may include it."""
    if card.trained_before is None or card.trained_before > day:
        window = f"before {card.trained_before}" if card.trained_before else "of unknown span"
        raise ValueError(
            f"{card.name} v{card.version} was trained on data {window}, which may include "
            f"{day}; route this day on a model trained before it (taxinav forecast backtest "
            f"--unit road --test-start {day})"
        )


@dataclass
class ClosedLoopForecast:
    """The service's live road forecast inside a simulation: every slot, the online
    features (stored counts before the day + what ``stream`` has received so far) scored by
    the champion road model."""

    state: SlotFeatures  # history before the day; the day's slots empty
    first_slot: int  # the day's first slot in ``state``
    card: ModelCard
    stream: FixStream
    horizon_s: float
    slot_s: float
    label: dict[str, Any] = field(init=False)
    _slot: int = -1
    _rate: FloatArray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        self.label = {"source": "closed loop (online features of simulated telemetry)",
                      **self.card.label()}  # fmt: skip

    def at(self, t: float) -> FloatArray:
        # the day's last tick (t = 24 h) still belongs to its last slot
        k = min(int(t // self.slot_s), self.state.n_slots - self.first_slot - 1)
        if k != self._slot:
            self._slot = k
            if k > 0:
                self.state.set_live(self.first_slot, self.stream.pickups[:, :k],
                                    self.stream.vacant[:, :k])  # fmt: skip
            x = pd.DataFrame(self.state.row(self.first_slot + k), columns=list(FEATURES))
            yhat = np.asarray(self.card.predict(x.astype(np.float32)), dtype=np.float64)
            self._rate = np.clip(yhat, 0.0, None) / self.horizon_s
        return self._rate


def closed_loop_state(
    graph: RoadGraph, history: pa.Table, first: datetime, origin: datetime, slotting: Slotting,
    h3_resolution: int, tz: ZoneInfo,
) -> tuple[SlotFeatures, int]:  # fmt: skip
    """The online feature state of a day: counts before ``origin``, the day's slots empty."""
    inputs = unit_inputs(graph, "road", history, first, origin + timedelta(days=1),
                         slotting, h3_resolution, tz)  # fmt: skip
    first_slot = slotting.index(origin, first)
    return SlotFeatures(inputs), first_slot
