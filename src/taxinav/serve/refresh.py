"""The periodic refresh: forecast every unit for the current slot, score forecasts whose
horizon has passed, and plan the vacant fleet — published as one typed :class:`Snapshot`
that readers take whole (a refresh replaces it; nothing in it is written afterwards)."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from taxinav.features import Slotting
from taxinav.mlops.monitoring import Monitor
from taxinav.routing.route import Route
from taxinav.serve import planner
from taxinav.serve.live import LiveState
from taxinav.serve.online import DayForecaster, LiveForecast, Predict, forecast_now, merge_counts
from taxinav.settings import Settings

LIVE_WINDOW = timedelta(minutes=5)  # a vehicle is on the road if it reported this recently


@dataclass(frozen=True)
class PlanSummary:
    at: datetime
    vacant: int  # vacant vehicles seen in the live window
    placed: int  # of them, on a road segment
    routes: int
    guided: int  # of the placed, those whose drivers follow the routes
    seconds: float  # planning time
    segments: tuple[int, ...]  # where the placed vehicles are

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "vacant": self.vacant, "placed": self.placed,
                "routes": self.routes, "guided": self.guided,
                "seconds": round(self.seconds, 3)}  # fmt: skip


@dataclass(frozen=True)
class Snapshot:
    """What the latest refresh produced."""

    clock: datetime | None = None  # the data clock it was made at
    h3: LiveForecast | None = None
    road: LiveForecast | None = None
    routes: dict[str, Route] = field(default_factory=dict)
    plan: PlanSummary | None = None
    seconds: float | None = None  # how long the refresh took
    demand_source: str = ""  # what the plan's road demand is


@dataclass(frozen=True)
class Scored:
    """Realised RMSE of the served and the base forecasts of one slot, once its horizon passed."""

    slot_start: datetime
    champion_rmse: float
    base_rmse: float


class Refresher:
    """Makes snapshots; keeps the forecasts awaiting their truth and the scores of the last
    day (for ``/v1/model`` and the metrics)."""

    def __init__(self, settings: Settings, slotting: Slotting, monitor: Monitor) -> None:
        self.settings = settings
        self.slotting = slotting
        self.monitor = monitor
        self.pending: deque[LiveForecast] = deque(maxlen=200)
        self.scores: deque[Scored] = deque(maxlen=144)
        self._days: dict[tuple[date, str], DayForecaster] = {}

    def _forecast(self, ctx: planner.DayContext, live: LiveState, unit: str, clock: datetime,
                  predict: Predict | None) -> LiveForecast:  # fmt: skip
        """``forecast_now`` of the unit, from a feature state kept through the day."""
        key = (ctx.day, unit)
        if key not in self._days:
            history = ctx.history if unit == "h3" else ctx.road_history
            self._days = {k: v for k, v in self._days.items() if k[0] == ctx.day}
            self._days[key] = DayForecaster(self.settings, ctx.graph, unit, history, ctx.origin)
        out = self._days[key].forecast(live.counts(unit), clock, predict)
        if out is None:  # the clock is outside the loaded day (just before a reload)
            history = ctx.history if unit == "h3" else ctx.road_history
            counts = merge_counts(history, live.counts(unit), ctx.origin)
            out = forecast_now(self.settings, ctx.graph, unit, counts, clock, predict)
        return out

    def refresh(self, ctx: planner.DayContext, live: LiveState, clock: datetime) -> Snapshot:
        started = time.perf_counter()
        predict = ctx.champion[1] if ctx.champion else None
        h3 = self._forecast(ctx, live, "h3", clock, predict)
        self.pending.append(h3)
        self._score(ctx, live, clock)
        road = self._road(ctx, live, clock)
        routes, plan = self._plan(ctx, live, clock)
        return Snapshot(clock, h3, road, routes, plan, time.perf_counter() - started,
                        ctx.demand_source)  # fmt: skip

    def _road(self, ctx: planner.DayContext, live: LiveState,
              clock: datetime) -> LiveForecast | None:  # fmt: skip
        """Score the road champion for the current slot and make it the plan's demand for
        that slot (until then the plan uses the day's stored forecasts)."""
        if ctx.road_champion is None:
            return None
        out = self._forecast(ctx, live, "road", clock, ctx.road_champion[1])
        units = np.asarray([int(u) for u in out.unit_id], dtype=np.int64)
        slot = ctx.road_demand.slot_of(out.slot_start)
        if ctx.road_demand.set_slot(slot, units, out.yhat / self.slotting.horizon_s):
            ctx.demand_source = f"live champion v{ctx.road_champion[0]}"
        return out

    def _score(self, ctx: planner.DayContext, live: LiveState, clock: datetime) -> None:
        """Realised error of forecasts whose horizon has passed (live accuracy)."""
        horizon = timedelta(seconds=self.slotting.horizon_s)
        counts = live.counts("h3").to_pydict()
        while self.pending and self.pending[0].slot_start + horizon <= clock:
            f = self.pending.popleft()
            start, end = f.slot_start, f.slot_start + horizon
            actual: Counter[str] = Counter()
            for u, s, n in zip(counts["unit_id"], counts["slot_start"], counts["pickups"],
                               strict=True):  # fmt: skip
                if start <= s < end:
                    actual[u] += n
            y = np.array([actual.get(u, 0) for u in f.unit_id], dtype=np.float64)
            served, base = (float(np.sqrt(np.mean((y - p) ** 2))) for p in (f.yhat, f.base))
            self.scores.append(Scored(start, served, base))
            if ctx.champion is not None:
                self.monitor.accuracy_window(start.isoformat(), served, base)

    def _plan(self, ctx: planner.DayContext, live: LiveState,
              clock: datetime) -> tuple[dict[str, Route], PlanSummary]:  # fmt: skip
        rows = [(k, v.lat, v.lon, v.heading if v.heading is not None else float("nan"))
                for k, v in live.latest(LIVE_WINDOW) if not v.occupied]  # fmt: skip
        guided = self.settings.serve.guided_vehicles
        vehicles = [v if guided is None else dataclasses.replace(v, guided=v.vehicle_id in guided)
                    for v in planner.place(ctx.graph, live.index, rows)]  # fmt: skip
        started = time.perf_counter()
        routes = planner.plan(ctx, vehicles, clock)
        summary = PlanSummary(clock, len(rows), len(vehicles), len(routes),
                              sum(v.guided for v in vehicles), time.perf_counter() - started,
                              tuple(v.segment for v in vehicles))  # fmt: skip
        return routes, summary
