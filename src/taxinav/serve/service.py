"""The running service: durable ingestion, live state, periodic forecast and plan refresh.

Accepted items are fsynced to the append log before the API answers; a flusher loads closed
log segments into the landing store; on start the log left by a previous process is loaded
and replayed into the live state, so nothing acknowledged is lost by a crash.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections import Counter, deque
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from taxinav.features import Slotting
from taxinav.mlops.monitoring import Alert, make_monitor
from taxinav.routing.route import Route
from taxinav.serve import planner, views
from taxinav.serve.auth import Auth, check_production
from taxinav.serve.landing import load_records
from taxinav.serve.live import LiveState
from taxinav.serve.memory import release_unused
from taxinav.serve.online import forecast_now, merge_counts
from taxinav.serve.schemas import Fix, IngestResult, RideEvent, validate_items
from taxinav.serve.wal import AppendLog
from taxinav.settings import Settings
from taxinav.warehouse import connect

log = logging.getLogger(__name__)
LIVE_WINDOW = timedelta(minutes=5)
_FIXES, _RIDES = (
    TypeAdapter(list[Fix]),
    TypeAdapter(list[RideEvent]),
)  # a vehicle is on the road if it reported this recently


class NotFound(LookupError):
    pass


class Conflict(Exception):
    pass


class Service:
    def __init__(self, settings: Settings) -> None:
        check_production(settings.serve)
        self.settings = settings
        self.slotting = Slotting.of_forecast(settings.forecast)
        self.auth = Auth(settings.serve.tokens)
        self.log = AppendLog(settings.home / "serve" / "log")
        self.ctx: planner.DayContext | None = None
        self.live: LiveState | None = None
        self.routes: dict[str, Route] = {}
        self.cache: dict[str, Any] = {}
        self.stats: Counter[str] = Counter()
        self.errors: deque[tuple[float, float, float]] = deque(maxlen=144)  # champion, base
        self.pending: deque[dict[str, Any]] = deque(maxlen=200)  # forecasts awaiting truth
        self.refreshed_clock: datetime | None = None
        self._ingest_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.monitor = make_monitor(settings.monitoring)
        self.last_ingest = time.time()
        self._refreshed_wall = 0.0
        self._route_json: dict[str, tuple[tuple[int, datetime], bytes]] = {}

    # life cycle --------------------------------------------------------------------------
    def start(self, day: date, background: bool = True) -> None:
        """Load the day, recover the log of a previous process, start the workers."""
        self.ctx = planner.load_day(self.settings, day)
        release_unused()
        s = self.settings
        self.live = LiveState(self.ctx.graph, self.ctx.cells, s.forecast.h3_resolution,
                              self.slotting, s.ingest.gap_limit_min * 60,
                              s.roads.match_radius_m, s.roads.heading_weight_m)  # fmt: skip
        self._recover()
        if background:
            for target in (self._flush_loop, self._refresh_loop):
                t = threading.Thread(target=target, daemon=True, name=target.__name__)
                t.start()
                self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        self.flush()
        self.log.close()

    @property
    def ready(self) -> bool:
        return self.ctx is not None and self.live is not None

    def _recover(self) -> None:
        """Load what a previous process acknowledged, and rebuild the live state from it."""
        assert self.live is not None
        recovered = 0
        for seg in self.log.closed_segments():
            records = list(self.log.read(seg))
            for kind, items in records:
                if kind == "fixes":
                    fixes = [Fix.model_validate(i) for i in items]
                    self.live.apply(fixes)
                    recovered += len(fixes)
        self.flush()
        self.stats["recovered_fixes"] += recovered

    # ingestion ---------------------------------------------------------------------------
    def ingest_fixes(self, items: list[Any]) -> IngestResult:
        assert self.live is not None
        good, rejected = validate_items(items, Fix)
        with self._ingest_lock:
            new, repeats = self.live.split_new([f for _, f in good])
            if new:
                self.log.append("fixes", _FIXES.dump_json(new))
                self.live.apply(new)
                self.last_ingest = time.time()
        self.stats.update(fixes_accepted=len(new), fixes_repeated=repeats,
                          fixes_rejected=len({r.index for r in rejected}))  # fmt: skip
        return IngestResult(accepted=len(new), duplicates=repeats, rejected=rejected)

    def ingest_rides(self, items: list[Any]) -> IngestResult:
        assert self.live is not None
        good, rejected = validate_items(items, RideEvent)
        with self._ingest_lock:
            seen = self.cache.setdefault("ride_keys", set())
            new = [e for _, e in good if e.event_key not in seen]
            new = list({e.event_key: e for e in new}.values())
            if new:
                self.log.append("rides", _RIDES.dump_json(new))
                seen.update(e.event_key for e in new)
                for e in new:
                    if e.kind == "pickup":
                        self.live.add_reported_pickup(e.lat, e.lon, e.ts)
        self.stats.update(rides_accepted=len(new), rides_rejected=len({r.index for r in rejected}))
        return IngestResult(accepted=len(new), duplicates=len(good) - len(new), rejected=rejected)

    def flush(self) -> int:
        """Load closed log segments into the landing store; returns the records loaded."""
        self.log.rotate()
        segments = self.log.closed_segments()
        if not segments:
            return 0
        s = self.settings
        con = connect(s.api_landing_path, memory_limit=s.duckdb_memory_limit, threads=1)
        n = 0
        try:
            for seg in segments:
                records = list(self.log.read(seg))
                self.stats.update(load_records(con, records))
                n += len(records)
            for seg in segments:  # only after every load committed
                self.log.done(seg)
        finally:
            con.close()
        return n

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.settings.serve.flush_s):
            try:
                self.flush()
            except Exception:  # keep serving; the log keeps the data until a flush works
                log.exception("flushing the append log failed")

    # forecasts and plans -----------------------------------------------------------------
    def _refresh_loop(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self.refresh()
                quiet_min = (time.time() - self.last_ingest) / 60
                self.monitor.freshness(datetime.now(UTC).isoformat(), quiet_min)
            except Exception:
                log.exception("refresh failed")

    def refresh(self, force: bool = False) -> bool:
        """Forecast and re-plan when the data clock moved ``refresh_s`` since the last time."""
        assert self.live is not None and self.ctx is not None
        clock = self.live.clock
        if clock is None:
            return False
        s = self.settings.serve
        due = self.refreshed_clock is None or (
            (clock - self.refreshed_clock).total_seconds() >= s.refresh_s
            and time.monotonic() - self._refreshed_wall >= s.min_refresh_wall_s
        )
        if not (due or force) or not self._refresh_lock.acquire(blocking=False):
            return False
        try:
            if planner.next_day_due(self.ctx, clock):
                self.ctx = planner.load_day(
                    self.settings, clock.astimezone(self.settings.tz).date()
                )
                release_unused()
            started = time.perf_counter()
            self._forecast(clock)
            self._plan(clock)
            self.live.prune()
            self.refreshed_clock = clock
            self._refreshed_wall = time.monotonic()
            self.stats["refreshes"] += 1
            self.cache["refresh_s"] = time.perf_counter() - started
            return True
        finally:
            self._refresh_lock.release()

    def _forecast(self, clock: datetime) -> None:
        assert self.live is not None and self.ctx is not None
        counts = merge_counts(self.ctx.history, self.live.counts("h3"), self.ctx.origin)
        predict = self.ctx.champion[1] if self.ctx.champion else None
        out = forecast_now(self.settings, self.ctx.graph, "h3", counts, clock, predict)
        self.cache["h3"] = out
        self.pending.append({"slot_start": out["slot_start"], "unit_id": out["unit_id"],
                             "champion": out["yhat"], "base": out["base"]})  # fmt: skip
        self._score(clock)
        self._forecast_roads(clock)

    def _forecast_roads(self, clock: datetime) -> None:
        """Score the road champion for the current slot and make it the plan's demand for
        that slot (until then the plan uses the day's stored forecasts)."""
        assert self.live is not None and self.ctx is not None
        ctx = self.ctx
        if ctx.road_champion is None:
            return
        counts = merge_counts(ctx.road_history, self.live.counts("road"), ctx.origin)
        out = forecast_now(self.settings, ctx.graph, "road", counts, clock, ctx.road_champion[1])
        units = np.asarray([int(u) for u in out["unit_id"]], dtype=np.int64)
        slot = ctx.road_demand.slot_of(out["slot_start"])
        if ctx.road_demand.set_slot(slot, units, out["yhat"] / self.slotting.horizon_s):
            ctx.demand_source = f"live champion v{ctx.road_champion[0]}"
        self.cache["road"] = out

    def _score(self, clock: datetime) -> None:
        """Realised error of forecasts whose horizon has passed (live accuracy)."""
        assert self.live is not None
        horizon = timedelta(seconds=self.slotting.horizon_s)
        live = self.live.counts("h3").to_pydict()
        while self.pending and self.pending[0]["slot_start"] + horizon <= clock:
            f = self.pending.popleft()
            start, end = f["slot_start"], f["slot_start"] + horizon
            actual: Counter[str] = Counter()
            for u, s, n in zip(live["unit_id"], live["slot_start"], live["pickups"], strict=True):
                if start <= s < end:
                    actual[u] += n
            y = np.array([actual.get(u, 0) for u in f["unit_id"]], dtype=np.float64)
            err = [float(np.sqrt(np.mean((y - f[m]) ** 2))) for m in ("champion", "base")]
            self.errors.append((start.timestamp(), err[0], err[1]))
            if self.ctx is not None and self.ctx.champion is not None:
                self.monitor.accuracy_window(start.isoformat(), err[0], err[1])

    def _plan(self, clock: datetime) -> None:
        assert self.live is not None and self.ctx is not None
        rows = [(k, v.lat, v.lon, v.heading if v.heading is not None else float("nan"))
                for k, v in self.live.latest(LIVE_WINDOW) if not v.occupied]  # fmt: skip
        guided = self.settings.serve.guided_vehicles
        vehicles = [v if guided is None else dataclasses.replace(v, guided=v.vehicle_id in guided)
                    for v in planner.place(self.ctx.graph, self.live.index, rows)]  # fmt: skip
        started = time.perf_counter()
        self.routes = planner.plan(self.ctx, vehicles, clock)
        self.cache["plan"] = {"at": clock.isoformat(), "vacant": len(rows),
                              "placed": len(vehicles), "routes": len(self.routes),
                              "guided": sum(v.guided for v in vehicles),
                              "seconds": round(time.perf_counter() - started, 3),
                              "segments": [v.segment for v in vehicles]}  # fmt: skip
        self.cache.pop("road_geojson", None)
        self.cache.pop("h3_geojson", None)

    # reads -------------------------------------------------------------------------------
    def vehicle_route(self, vehicle_id: str) -> bytes:
        """The vehicle's coordinated route as GeoJSON, re-drawn if it has moved since the plan
        (serialised once per route and position: a poll costs a lookup)."""
        assert self.live is not None and self.ctx is not None
        v = self.live.vehicles.get(vehicle_id)
        if v is None:
            raise NotFound(f"unknown vehicle {vehicle_id!r}")
        if v.occupied:
            raise Conflict(f"vehicle {vehicle_id!r} is occupied; routes are for vacant taxis")
        heading = v.heading if v.heading is not None else float("nan")
        placed = planner.place(self.ctx.graph, self.live.index, [(vehicle_id, v.lat, v.lon,
                                                                  heading)])  # fmt: skip
        if not placed:
            raise NotFound(f"vehicle {vehicle_id!r} is not on the road network")
        route = self.routes.get(vehicle_id)
        if route is None or route.start_segment != placed[0].segment:
            clock = self.live.clock or v.ts
            route = self.ctx.recommender.reroute(
                placed[0], (clock - self.ctx.origin).total_seconds()
            )
            if route is None:
                raise Conflict(f"no admissible route for {vehicle_id!r} right now")
            self.routes[vehicle_id] = route
        key = (id(route), v.ts)
        cached = self._route_json.get(vehicle_id)
        if cached is None or cached[0] != key:
            feature = views.route_feature(
                route, self.ctx.graph, v, self.live.clock, self.settings.timezone
            )
            cached = (key, json.dumps(feature, separators=(",", ":")).encode())
            self._route_json[vehicle_id] = cached
        return cached[1]

    def demand(self, unit: str) -> bytes:
        """Demand GeoJSON of the latest refresh (serialised once per refresh)."""
        assert self.live is not None and self.ctx is not None
        key = f"{unit}_geojson"
        if key not in self.cache:
            if unit == "h3":
                out = views.h3_demand(self.cache.get("h3"), self.live, self.ctx.cells,
                                      LIVE_WINDOW, self.slotting)  # fmt: skip
            else:
                out = views.road_demand(self.ctx, self.live, LIVE_WINDOW, self.slotting)
            self.cache[key] = json.dumps(out, separators=(",", ":")).encode()
        data: bytes = self.cache[key]
        return data

    def model_info(self) -> dict[str, Any]:
        assert self.ctx is not None
        recent = list(self.errors)
        champion = self.ctx.champion[0] if self.ctx.champion else None
        return {
            "unit_type": "h3", "champion_version": champion, "timezone": self.settings.timezone,
            "training": views.training_window(self.settings, champion),
            "live_accuracy": {
                "windows": len(recent),
                "champion_rmse": float(np.mean([e[1] for e in recent])) if recent else None,
                "base_rmse": float(np.mean([e[2] for e in recent])) if recent else None,
            },
            "road_demand_source": self.ctx.demand_source,
            "last_plan": {k: v for k, v in self.cache.get("plan", {}).items() if k != "segments"},
        }  # fmt: skip

    # registry ----------------------------------------------------------------------------
    def _registry(self) -> Any:
        if not self.settings.mlops.track:
            raise Conflict("model tracking is off (TAXINAV_MLOPS__TRACK=false)")
        from taxinav.mlops.registry import Registry

        return Registry.from_settings(self.settings)

    def _reload_champion(self, unit: str) -> None:
        if unit == "h3" and self.ctx is not None:
            from taxinav.mlops.registry import champion_loader

            self.ctx.champion = champion_loader(self.settings)("h3")

    def promote(self, unit: str, version: str) -> dict[str, Any]:
        from mlflow.exceptions import MlflowException

        reg = self._registry()
        try:
            reg.promote(unit, version, reason="api")
        except MlflowException as exc:
            raise NotFound(f"no version {version} of {reg.name(unit)}: {exc.message}") from exc
        self._reload_champion(unit)
        return {"unit_type": unit, "champion": version}

    def rollback(self, unit: str) -> dict[str, Any]:
        from mlflow.exceptions import MlflowException

        reg = self._registry()
        try:
            version = reg.rollback(unit)
        except LookupError as exc:
            raise Conflict(str(exc)) from exc
        except MlflowException as exc:
            raise Conflict(f"{reg.name(unit)}: {exc.message}") from exc
        self._reload_champion(unit)
        return {"unit_type": unit, "champion": version}

    def alerts(self) -> list[Alert]:
        return list(self.monitor.sent)[-50:]
