"""Guidance from the warehouse: demand rates, fares and drivers' habits for the recommender,
and the guided policies the simulator runs (``guided``, ``guided-independent``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix

from taxinav.calendar import local_midnight
from taxinav.features import Slotting
from taxinav.features.counts import CountSpec
from taxinav.features.online import SlotFeatures
from taxinav.guidance.demand import (
    DEMAND_SOURCES,
    ClosedLoopForecast,
    DemandSource,
    check_model_window,
    closed_loop_state,
    historical_demand,
    oracle_demand,
    road_history,
)
from taxinav.guidance.policy import GuidedPolicy
from taxinav.guidance.telemetry import FixStream
from taxinav.mlops.registry import ModelCard, champion_card
from taxinav.roads import RoadGraph, read_graph
from taxinav.routing.coordination import Demand, PlanConfig
from taxinav.routing.mdp import FloatArray, TimeGraph
from taxinav.routing.recommender import Recommender
from taxinav.routing.route import RouteChecker, RouteLimits, network_area_mask
from taxinav.settings import Settings
from taxinav.sim.kpi import Tariff
from taxinav.sim.learned import BLOCK_H, HistoricalBehaviour, learn_historical
from taxinav.sim.policies import WAIT_S
from taxinav.sim.replay import build_network, hourly_counts
from taxinav.sim.world import Network

GUIDED = ("guided", "guided-independent")
FARE_SHRINK = 20.0  # trips' worth of weight the city-wide mean fare gets per segment


def segment_fares(con: duckdb.DuckDBPyConnection, n: int, before: datetime,
                  tariff: Tariff) -> FloatArray:  # fmt: skip
    """Mean meter fare (``tariff``) of rides picked up on each segment before ``before``,
    shrunk towards the overall mean."""
    rows = con.sql(
        f"""SELECT p.segment_id, count(*),
                  sum({tariff.sql("t.distance_m", "t.duration_s")})
           FROM trips t JOIN trip_end_matches p ON p.trip_id = t.trip_id
            AND p.end_kind = 'pickup' AND p.status = 'matched'
           WHERE t.pickup_ts < $before GROUP BY 1""",
        params={"before": before},
    ).fetchall()
    count, total = np.zeros(n), np.zeros(n)
    for seg, c, f in rows:
        count[int(seg)], total[int(seg)] = c, f
    overall = total.sum() / max(count.sum(), 1.0) if count.any() else 10.0
    out: FloatArray = (total + FARE_SHRINK * overall) / (count + FARE_SHRINK)
    return out


def habit_edge_probs(behaviour: HistoricalBehaviour, network: Network) -> FloatArray:
    """Drivers' next-segment frequencies on every edge (CSR order), per 4-hour block."""
    n_blocks = 24 // BLOCK_H
    indptr, succ = network.succ_indptr, network.succ_indices
    out = np.zeros((n_blocks, succ.shape[0]))
    for b in range(n_blocks):
        for s in range(network.n_segments):
            lo, hi = int(indptr[s]), int(indptr[s + 1])
            found = behaviour.transitions.get((b, s)) or behaviour.transitions.get((-1, s))
            if found is None:
                out[b, lo:hi] = 1.0 / (hi - lo)
                continue
            nxt, cum = found
            counts = np.diff(np.r_[0.0, cum])
            weight = dict(zip(nxt.tolist(), counts.tolist(), strict=True))
            w = np.array([weight.get(int(x), 0.0) for x in succ[lo:hi]]) + 0.1
            out[b, lo:hi] = w / w.sum()
    return out


@dataclass(frozen=True)
class DayDemand:
    """Pickups per second on each segment over one local day, by forecast slot."""

    origin: datetime
    slot_s: float
    rate: FloatArray  # [slots, segments]
    source: str  # "forecast", "(partly) in-sample forecast", "historical average"

    def at(self, t: float) -> FloatArray:
        out: FloatArray = self.rate[min(int(t // self.slot_s), self.rate.shape[0] - 1)]
        return out

    @property
    def label(self) -> dict[str, Any]:
        return {"source": f"stored {self.source}s (precomputed from real pickups)",
                "model": "forecasts table (champion, else backtest lightgbm)"}  # fmt: skip


@dataclass
class LiveDemand:
    """The day's stored forecasts, with the slots a live forecast has since replaced (the
    service's road champion, every refresh). The stored rates are never written to."""

    stored: DayDemand
    live: dict[int, FloatArray] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return self.stored.source

    @property
    def label(self) -> dict[str, Any]:
        return self.stored.label

    def slot_of(self, when: datetime) -> int:
        return int((when - self.stored.origin).total_seconds() // self.stored.slot_s)

    def set_slot(self, slot: int, units: NDArray[np.int64], rate: FloatArray) -> bool:
        """Make ``rate`` (pickups per second of ``units``) the demand of ``slot``; the other
        segments keep their stored rate. False when the slot is outside the day."""
        if not 0 <= slot < self.stored.rate.shape[0]:
            return False
        row = self.stored.rate[slot].copy()
        row[units] = rate
        self.live[slot] = row
        return True

    def at(self, t: float) -> FloatArray:
        slot = min(int(t // self.stored.slot_s), self.stored.rate.shape[0] - 1)
        out: FloatArray = self.live.get(slot, self.stored.rate[slot])
        return out


def day_demand(
    con: duckdb.DuckDBPyConnection, settings: Settings, n: int, origin: datetime,
    hourly: FloatArray,
) -> DayDemand:  # fmt: skip
    """The stored road forecasts for the day; hours without any use the per-hour historical
    mean ``hourly`` [24, n] (pickups per hour). Per unit × slot one stored row: a model version
    whose training data ended before the slot's day (out-of-sample) before one of unknown
    window before an in-sample one; then the daily pipeline's @champion before the backtest's
    model; then the newest version. Routing on in-sample forecasts is said in ``source``."""
    sl = Slotting.of_forecast(settings.forecast)
    n_slots = sl.per_day
    rate = np.full((n_slots, n), np.nan)
    rows = con.sql(
        """SELECT unit_id::BIGINT, (epoch(slot_start) - epoch($o::TIMESTAMPTZ)) // $step, yhat,
                  coalesce(in_sample, false)
           FROM forecasts WHERE unit_type = 'road' AND model IN ('champion', 'lightgbm')
             AND slot_start >= $o AND slot_start < $e
           QUALIFY row_number() OVER (PARTITION BY unit_id, slot_start ORDER BY
               CASE WHEN in_sample IS NULL THEN 1 WHEN in_sample THEN 2 ELSE 0 END,
               model = 'champion' DESC,
               TRY_CAST(model_version AS BIGINT) DESC NULLS LAST, model_version DESC) = 1""",
        params={"o": origin, "e": origin + timedelta(days=1), "step": sl.slot_s},
    ).fetchnumpy()
    unit, slot, yhat, inside = (np.asarray(v) for v in rows.values())
    horizon_s = sl.horizon_s
    in_sample_slots = 0
    if unit.size:
        have = np.unique(slot.astype(np.int64))
        rate[have] = 0.0
        rate[slot.astype(np.int64), unit.astype(np.int64)] = yhat / horizon_s
        in_sample_slots = int(np.unique(slot[inside.astype(bool)]).size)
    missing = np.isnan(rate[:, 0])
    means = historical_demand(hourly, origin.astimezone(settings.tz).hour, float(sl.slot_s),
                              n_slots, {})  # fmt: skip
    rate[missing] = means.rate[missing]
    source = "forecast" if not missing.all() else "historical average"
    if in_sample_slots:  # some slots route on forecasts of a model trained on this day
        forecast_slots = int((~missing).sum())
        source = ("in-sample forecast" if in_sample_slots == forecast_slots
                  else "partly in-sample forecast")  # fmt: skip
    return DayDemand(origin, float(sl.slot_s), rate, source)


@dataclass
class GuidedFactory:
    """What guided policies share over a period; ``for_day`` makes a fresh policy per run.

    ``demand``: what guided taxis route on — ``closed-loop`` (the service's live forecast
    computed inside the simulation), or the labelled stand-ins ``stored``, ``oracle``,
    ``historical``. ``competitors``: the planner's model of unguided drivers, ``habits``
    (learned before the period) or ``uniform`` (any legal move alike)."""

    name: str
    con: duckdb.DuckDBPyConnection
    settings: Settings
    network: Network
    graph: RoadGraph
    fares: FloatArray
    habits: FloatArray  # [block, edge]
    hourly: FloatArray  # [24, n] pickups per hour, before the period
    stands: NDArray[np.bool_]  # segments where guided taxis may wait
    inside: NDArray[np.bool_]  # segments inside the mapped area
    demand: str = "closed-loop"
    competitors: str = "habits"
    card: ModelCard | None = None
    _states: dict[datetime, tuple[SlotFeatures, int]] = field(default_factory=dict)

    def day_demand(self, origin: datetime) -> DayDemand:
        return day_demand(self.con, self.settings, self.network.n_segments, origin, self.hourly)

    def demand_source(self, origin: datetime, stream: FixStream | None) -> DemandSource:
        """The day's demand as this factory's ``demand`` says."""
        sl = Slotting.of_forecast(self.settings.forecast)
        slot_s, n_slots = float(sl.slot_s), sl.per_day
        if self.demand == "stored":
            return self.day_demand(origin)
        if self.demand == "oracle":
            return oracle_demand(self.con, self.network.n_segments, origin, slot_s, n_slots,
                                 sl.horizon_slots)  # fmt: skip
        if self.demand == "historical":
            hour0 = origin.astimezone(self.settings.tz).hour
            return historical_demand(self.hourly, hour0, slot_s, n_slots,
                                     {"source": "historical means (days before the period)",
                                      "model": None})  # fmt: skip
        if self.card is None or stream is None:
            raise LookupError("closed-loop guidance needs a road champion (taxinav forecast "
                              "backtest --unit road) and a fix stream")  # fmt: skip
        day = origin.astimezone(self.settings.tz).date()
        check_model_window(self.card, day)
        if origin not in self._states:
            first = CountSpec.of(self.settings).history_start(origin + timedelta(days=1))
            history = road_history(self.con, first, origin)
            self._states = {origin: closed_loop_state(
                self.graph, history, first, origin, sl, self.settings.forecast.h3_resolution,
                self.settings.tz,
            )}  # fmt: skip
        state, first_slot = self._states[origin]
        return ClosedLoopForecast(state, first_slot, self.card, stream, sl.horizon_s, slot_s)

    def for_day(self, origin: datetime, seed: int) -> GuidedPolicy:
        sl = Slotting.of_forecast(self.settings.forecast)
        stream = FixStream(self.network.n_segments, float(sl.slot_s), sl.per_day,
                           self.settings.sim.fix_interval_s, seed)  # fmt: skip
        source = self.demand_source(origin, stream)
        rec, demand_at, habits_at = self.parts(origin, seed, source)
        return GuidedPolicy(rec, demand_at, habits_at, self.settings.routing.refresh_s,
                            self.name, stream, source.label)  # fmt: skip

    def parts(
        self, origin: datetime, seed: int, demand: DemandSource | None = None
    ) -> tuple[Recommender, Callable[[float], Demand], Callable[[float], FloatArray | None]]:
        """A fresh recommender, and demand (``demand``, or the day's stored forecasts) and
        drivers' habits as functions of the seconds since ``origin``."""
        r = self.settings.routing
        net = self.network
        graph = TimeGraph.build(net.succ_indptr, net.succ_indices, net.travel_s, r.tick_s,
                                self.stands if r.wait_at_stands else None)  # fmt: skip
        config = PlanConfig(
            horizon_s=r.lookahead_min * 60, route_s=r.horizon_min * 60, tick_s=r.tick_s,
            patience_s=r.patience_s,
            temperature=r.temperature, fleet_temperature=r.fleet_temperature,
            cost_per_km=r.cost_per_km, iterations=r.iterations,
            discount_per_min=r.discount_per_min,
            damping=r.damping, coordinate=self.name == "guided",
            fleet_objective=r.fleet_objective, chance_scale=r.chance_scale,
        )  # fmt: skip
        checker = RouteChecker(
            net.succ_indptr, net.succ_indices, net.length_m, self.inside,
            RouteLimits(max_length_m=r.max_route_km * 1000, max_duration_s=config.route_s * 2,
                        max_visits=r.max_segment_visits),
            can_wait=graph.mask[-1],
        )  # fmt: skip
        rec = Recommender(graph, checker, config, seed=seed)
        source: DemandSource = demand if demand is not None else self.day_demand(origin)
        reach = _near_matrix(net) if r.near_demand else None
        hour0 = origin.astimezone(self.settings.tz).hour
        fares = self.fares if r.fare_by_segment else np.full_like(self.fares, self.fares.mean())

        # None: the coordinator takes any legal move of the other taxis as equally likely.
        habits = None if self.competitors == "uniform" else self.habits
        return rec, DemandAt(source, fares, net.length_m, reach), HabitsAt(habits, hour0)


@dataclass(frozen=True)
class DemandAt:
    """Demand ``t`` seconds after the day's origin (a value, so a loaded day can be sent
    from the process that read it)."""

    source: DemandSource
    fares: FloatArray
    length_m: FloatArray
    reach: csr_matrix | None  # hails a taxi on a segment can take, when matched nearby

    def __call__(self, t: float) -> Demand:
        rate = self.source.at(t)
        if self.reach is None:
            return Demand(rate, self.fares, self.length_m)
        return Demand(self.reach @ rate, self.fares, self.length_m, self.reach)


@dataclass(frozen=True)
class HabitsAt:
    """Unguided drivers' edge probabilities ``t`` seconds after the origin (None: unknown)."""

    habits: FloatArray | None  # [4-hour block, move]
    hour0: int  # local hour of the origin

    def __call__(self, t: float) -> FloatArray | None:
        if self.habits is None:
            return None
        out: FloatArray = self.habits[((self.hour0 + int(t // 3600)) % 24) // BLOCK_H]
        return out


def _near_matrix(net: Network) -> csr_matrix:
    """Row s sums the segments whose hails a taxi on s can take (within the match radius)."""
    n = net.n_segments
    rows = np.repeat(np.arange(n), np.diff(net.near_indptr))
    return csr_matrix((np.ones(rows.shape[0]), (rows, net.near_indices)), shape=(n, n))


def guided_factory(
    name: str, con: duckdb.DuckDBPyConnection, network: Network, before: datetime,
    settings: Settings, behaviour: HistoricalBehaviour, *, demand: str = "closed-loop",
    competitors: str = "habits", card: ModelCard | None = None,
) -> GuidedFactory:  # fmt: skip
    """Everything guidance learns from the days before ``before``; ``card``: the road model
    a closed loop forecasts with (the champion when not given)."""
    if demand not in DEMAND_SOURCES:
        raise ValueError(f"unknown demand source {demand!r}; use {', '.join(DEMAND_SOURCES)}")
    if demand == "closed-loop" and card is None:
        card = champion_card(settings, "road")
    graph = read_graph(con)
    _, pickups, days = hourly_counts(con, network.n_segments, before, settings.tz)
    return GuidedFactory(
        name=name, con=con, settings=settings, network=network, graph=graph,
        fares=segment_fares(con, network.n_segments, before,
                            Tariff(**settings.sim.tariff.model_dump())),
        habits=habit_edge_probs(behaviour, network), hourly=pickups / max(days, 1.0),
        stands=stands(behaviour, settings.routing.stand_min_wait_s),
        inside=network_area_mask(graph), demand=demand, competitors=competitors, card=card,
    )  # fmt: skip


@dataclass(frozen=True)
class DayGuidance:
    """Everything the coordinated plan of one local day needs, learned from the days before
    it: the service and the ``recommend`` command plan from this one composition."""

    graph: RoadGraph
    network: Network
    recommender: Recommender
    demand: LiveDemand  # the stored forecasts of the day, live slots replaced by the service
    demand_at: Callable[[float], Demand]
    habits_at: Callable[[float], FloatArray | None]


def day_guidance(con: duckdb.DuckDBPyConnection, settings: Settings, day: date) -> DayGuidance:
    """The coordinated recommender of ``day`` with its demand and drivers' habits."""
    graph = read_graph(con)
    network = build_network(graph, settings.sim.match_radius_m)
    origin = local_midnight(day, settings.tz)
    behaviour = learn_historical(con, network, origin, settings.tz)
    factory = guided_factory("guided", con, network, origin, settings, behaviour, demand="stored")
    demand = LiveDemand(factory.day_demand(origin))
    rec, demand_at, habits_at = factory.parts(origin, settings.seed, demand)
    return DayGuidance(graph, network, rec, demand, demand_at, habits_at)


def stands(behaviour: HistoricalBehaviour, min_wait_s: float) -> NDArray[np.bool_]:
    """Segments where vacant drivers stand, on average, at least ``min_wait_s`` beyond the
    drive through (in some 4-hour block): taxi stands, hotel ranks, known waiting spots."""
    # p_wait = extra / (extra + WAIT_S), so extra ≥ m  ⇔  p_wait ≥ m / (m + WAIT_S).
    threshold = min_wait_s / (min_wait_s + WAIT_S)
    out: NDArray[np.bool_] = (behaviour.p_wait >= threshold).any(axis=0)
    return out
