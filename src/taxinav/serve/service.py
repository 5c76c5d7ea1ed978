"""The running service: durable ingestion, live state, periodic forecast and plan refresh.

Accepted items are fsynced to the append log before the API answers (``ingestion``) — in a
process of its own when the service runs (``ingest_process``), in this one in tests; a
flusher loads closed log segments into the landing store; accepted fixes are applied to the
live state behind the answer; a refresher publishes a typed snapshot of forecasts and routes
(``refresh``); reads serve the latest snapshot.
"""

from __future__ import annotations

import json
import logging
import queue
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from taxinav.features import Slotting
from taxinav.mlops.monitoring import Alert, make_monitor
from taxinav.roads import RoadGraph
from taxinav.routing.route import Route
from taxinav.serve import planner, views
from taxinav.serve.auth import Auth, check_production
from taxinav.serve.geo_index import BBox, FeatureIndex
from taxinav.serve.histograms import Histograms
from taxinav.serve.ingest_process import IngestProcess, Received, parse_fixes, parse_pickups
from taxinav.serve.ingestion import Ingestion, phase_histograms
from taxinav.serve.live import LiveState
from taxinav.serve.memory import keep_large_blocks_mapped, settle
from taxinav.serve.refresh import LIVE_WINDOW, Refresher, Snapshot
from taxinav.serve.schemas import Fix, IngestResult, RideEvent
from taxinav.serve.wal import AppendLog
from taxinav.settings import Settings

__all__ = ["LIVE_WINDOW", "Conflict", "NotFound", "Service"]
log = logging.getLogger(__name__)


@dataclass
class IngestStatus:
    counts: Counter[str]
    phases: Histograms
    alerts: list[Alert]
    unread_batches: int = 0  # accepted by an ingest process, not read by the service yet
    ingest_rss_bytes: int = 0  # resident size of the ingest processes


class NotFound(LookupError):
    """Nothing there; ``state`` names why for the driver's screen (``no_data``: the vehicle
    never reported; ``off_network``: it is away from the mapped roads)."""

    def __init__(self, message: str, state: str = "") -> None:
        super().__init__(message)
        self.state = state


class Conflict(Exception):
    """Not now; ``state``: ``occupied`` (carrying a passenger) or ``no_route``."""

    def __init__(self, message: str, state: str = "") -> None:
        super().__init__(message)
        self.state = state


class Service:
    def __init__(self, settings: Settings) -> None:
        check_production(settings.serve)
        self.settings = settings
        self.slotting = Slotting.of_forecast(settings.forecast)
        self.auth = Auth(settings.serve.tokens)
        self.stats: Counter[str] = Counter()
        self.monitor = make_monitor(settings.monitoring)
        self.ingestion: Ingestion | None = None  # acknowledgements in this process …
        self.ingest_procs: list[IngestProcess] = []  # … or in processes of their own
        self._next_proc = 0  # the ingest worker the next forwarded request goes to
        self.last_ingest = time.time()  # wall clock of the last new fix
        self.refresher = Refresher(settings, self.slotting, self.monitor)
        self.ctx: planner.DayContext | None = None
        self.live: LiveState | None = None
        self.snapshot = Snapshot()
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._applying: queue.SimpleQueue[list[Fix]] | None = None  # accepted, not yet applied
        self._refreshed_wall = 0.0
        self._routes: dict[str, Route] = {}  # re-drawn routes of vehicles that moved
        self._route_json: dict[str, tuple[tuple[int, datetime], bytes]] = {}
        self._geojson: dict[tuple[int, str], FeatureIndex] = {}  # (snapshot, unit) → demand
        self._network: tuple[RoadGraph, FeatureIndex] | None = None  # the map's base layer
        self.http_metrics: Any = None  # the app's request counts, for /metrics (set by the app)

    # life cycle --------------------------------------------------------------------------
    def acks_apart(self, background: bool) -> bool:
        """Whether a service started with ``background`` acknowledges in its own process."""
        return background and self.settings.serve.ingest_process

    def start(self, day: date, background: bool = True) -> None:
        """Load the day, recover the log of a previous process, start the workers."""
        if background:
            keep_large_blocks_mapped()
        self.ctx = planner.load_day(self.settings, day, apart=background)
        settle()
        s = self.settings
        self.live = LiveState(self.ctx.graph, self.ctx.cells, s.forecast.h3_resolution,
                              self.slotting, s.ingest.gap_limit_min * 60,
                              s.roads.match_radius_m, s.roads.heading_weight_m)  # fmt: skip
        if self.acks_apart(background):  # each recovers its log; their fixes come queued
            self.ingest_procs = [IngestProcess(s, k) for k in range(s.serve.ingest_workers)]
            for proc in self.ingest_procs:
                proc.start()
        else:
            folder = s.serve.log_dir or s.home / "serve" / "log"
            self.ingestion = Ingestion(s, AppendLog(folder), self.stats, self.monitor)
            self.ingestion.recover(self.live.apply)
        if background:
            sys.setswitchinterval(s.serve.switch_interval_ms / 1000)
            if self.ingestion is not None:  # else the ingest process's batches come queued
                self._applying = queue.SimpleQueue()
            loops = [self._apply_loop, self._refresh_loop]
            if self.ingestion is not None:
                loops.append(self._flush_loop)
            for target in loops:
                t = threading.Thread(target=target, daemon=True, name=target.__name__)
                t.start()
                self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        for proc in self.ingest_procs:
            self._apply_received(proc.stop())
        if self.ingestion is not None:
            self._apply_queued()
            self.ingestion.flush()
            self.ingestion.log.close()

    @property
    def ready(self) -> bool:
        return self.ctx is not None and self.live is not None

    # ingestion ---------------------------------------------------------------------------
    def ingest_fixes(self, items: list[Any]) -> IngestResult:
        assert self.ingestion is not None, "acknowledgements run in the ingest process"
        return self.ingestion.fixes(items, self._accepted)

    def _accepted(self, new: list[Fix], _: bytes) -> None:
        assert self.live is not None
        if self._applying is not None:
            self._applying.put(new)
        else:
            self.live.apply(new)
        self.last_ingest = time.time()

    async def forward(self, request: Request) -> Response:
        """An ingest request, answered by an ingest process (each in turn)."""
        if not self.ingest_procs:
            return JSONResponse({"detail": "ingestion is not running; retry"}, status_code=503,
                                headers={"Retry-After": "1"})  # fmt: skip
        self._next_proc = (self._next_proc + 1) % len(self.ingest_procs)
        return await self.ingest_procs[self._next_proc].forward(request)

    def _apply_loop(self) -> None:
        """Apply acknowledged fixes to the live state behind the acknowledgement (applying
        took most of an acknowledgement's time; reads see them within milliseconds)."""
        while not self._stop.is_set():
            try:
                if self.ingest_procs:
                    wait = 0.5 / len(self.ingest_procs)
                    for proc in self.ingest_procs:
                        self._apply_received(proc.received(wait_s=wait))
                    self._keep_ingesting()
                else:
                    self._apply_queued(wait_s=0.5)
            except Exception:  # the fixes are logged; only the live view misses them
                log.exception("applying fixes to the live state failed")

    def _apply_received(self, received: list[Received]) -> None:
        """Apply what the ingest process accepted, as one batch (one road snap for all)."""
        assert self.live is not None
        fixes = [f for kind, raw in received if kind == "fixes" for f in parse_fixes(raw)]
        for kind, raw in received:
            if kind == "pickups":
                for e in parse_pickups(raw):
                    self.live.add_reported_pickup(e.lat, e.lon, e.ts)
        if fixes:
            self.live.apply(fixes)
            self.last_ingest = time.time()

    def _keep_ingesting(self) -> None:
        """Restart an ingest process that died (it recovers its log on start)."""
        for k, proc in enumerate(self.ingest_procs):
            if proc.alive or self._stop.is_set():
                continue
            log.error("ingest process %d exited (code %s); restarting it", k,
                      proc.proc.exitcode)  # fmt: skip
            self._apply_received(proc.stop())
            self.stats["ingest_restarts"] += 1
            fresh = IngestProcess(self.settings, k)
            fresh.start()
            self.ingest_procs[k] = fresh

    def _apply_queued(self, wait_s: float = 0.0) -> None:
        """Apply every batch queued so far, as one (one road snap for all of them)."""
        if self._applying is None or self.live is None:
            return
        try:
            batches = [self._applying.get(timeout=wait_s) if wait_s else
                       self._applying.get_nowait()]  # fmt: skip
        except queue.Empty:
            return
        while True:
            try:
                batches.append(self._applying.get_nowait())
            except queue.Empty:
                break
        self.live.apply([f for batch in batches for f in batch])

    def ingest_rides(self, items: list[Any]) -> IngestResult:
        assert self.ingestion is not None, "acknowledgements run in the ingest process"
        return self.ingestion.rides(items, self._pickups)

    def _pickups(self, events: list[RideEvent]) -> None:
        assert self.live is not None
        for e in events:
            self.live.add_reported_pickup(e.lat, e.lon, e.ts)

    def flush(self) -> int:
        """Land the append log's closed segments now; the records landed."""
        if self.ingest_procs:
            return sum(proc.flush() for proc in self.ingest_procs)
        return self.ingestion.flush() if self.ingestion is not None else 0

    def ingest_status(self) -> IngestStatus:
        """Counts, acknowledgement step latencies and alerts of the ingestion, wherever it
        runs (this process's own counts included)."""
        out = IngestStatus(Counter(self.stats), phase_histograms(), list(self.monitor.sent))
        if self.ingestion is not None:
            out.phases.absorb(self.ingestion.phases.rows())
        for proc in self.ingest_procs:
            child = proc.status()
            out.counts.update(child.get("stats", {}))
            out.phases.absorb(child.get("phases", []))
            out.alerts += [Alert(**a) for a in child.get("alerts", [])]
            out.unread_batches += proc.unread(child)
            out.ingest_rss_bytes += int(child.get("rss_bytes", 0))
        return out

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
        last = self.snapshot.clock
        due = last is None or (
            (clock - last).total_seconds() >= s.refresh_s
            and time.monotonic() - self._refreshed_wall >= s.min_refresh_wall_s
        )
        if not (due or force) or not self._refresh_lock.acquire(blocking=False):
            return False
        try:
            new_day = planner.next_day_due(self.ctx, clock)
            if new_day:
                self.ctx = planner.load_day(
                    self.settings,
                    clock.astimezone(self.settings.tz).date(),
                    apart=self._threads != [],  # a running service, not a test's
                )
            self.snapshot = self.refresher.refresh(self.ctx, self.live, clock)
            self._routes = {}
            self.live.prune()
            if new_day:
                # Only now is the previous day's state (its snapshot, its forecasters) let go:
                # frozen while still referenced, its cycles would never be collected (each
                # day change kept ~30 MiB more, measured).
                settle()
            self._refreshed_wall = time.monotonic()
            self.stats["refreshes"] += 1
            return True
        finally:
            self._refresh_lock.release()

    @property
    def routes(self) -> dict[str, Route]:
        """The latest plan's routes, with those re-drawn since for vehicles that moved."""
        return {**self.snapshot.routes, **self._routes}

    # reads -------------------------------------------------------------------------------
    def vehicle_route(self, vehicle_id: str, draw: bool = True) -> bytes | None:
        """The vehicle's coordinated route as GeoJSON, re-drawn if it has moved since the plan
        (serialised once per route and position: a poll costs a lookup). With ``draw`` false,
        None when that would need a re-draw or a new GeoJSON (the API does those off its
        event loop)."""
        assert self.live is not None and self.ctx is not None
        v = self.live.vehicles.get(vehicle_id)
        if v is None:
            raise NotFound(f"unknown vehicle {vehicle_id!r}", "no_data")
        if v.occupied:
            raise Conflict(f"vehicle {vehicle_id!r} is occupied; routes are for vacant taxis",
                           "occupied")  # fmt: skip
        heading = v.heading if v.heading is not None else float("nan")
        placed = planner.place(self.ctx.graph, self.live.index, [(vehicle_id, v.lat, v.lon,
                                                                  heading)])  # fmt: skip
        if not placed:
            raise NotFound(f"vehicle {vehicle_id!r} is not on the road network", "off_network")
        route = self._routes.get(vehicle_id) or self.snapshot.routes.get(vehicle_id)
        if route is None or route.start_segment != placed[0].segment:
            if not draw:
                return None
            clock = self.live.clock or v.ts
            route = self.ctx.recommender.reroute(
                placed[0], (clock - self.ctx.origin).total_seconds()
            )
            if route is None:
                raise Conflict(f"no admissible route for {vehicle_id!r} right now", "no_route")
            self._routes[vehicle_id] = route
        key = (id(route), v.ts)
        cached = self._route_json.get(vehicle_id)
        if cached is None or cached[0] != key:
            if not draw:
                return None
            feature = views.route_feature(
                route, self.ctx.graph, v, self.live.clock, self.settings.timezone
            )
            cached = (key, json.dumps(feature, separators=(",", ":")).encode())
            self._route_json[vehicle_id] = cached
        return cached[1]

    def demand(self, unit: str, bbox: BBox | None = None) -> bytes:
        """Demand GeoJSON of the latest snapshot, of the features in ``bbox`` (serialised
        once per snapshot and unit)."""
        assert self.live is not None and self.ctx is not None
        snap = self.snapshot
        key = (id(snap), unit)
        if key not in self._geojson:
            if unit == "h3":
                out = views.h3_demand(snap.h3, self.live, self.ctx.cells, LIVE_WINDOW,
                                      self.slotting)  # fmt: skip
            else:
                out = views.road_demand(self.ctx, self.live, LIVE_WINDOW, self.slotting)
            self._geojson = {k: v for k, v in self._geojson.items() if k[0] == id(snap)}
            self._geojson[key] = FeatureIndex(out)
        return self._geojson[key].collection(bbox)

    def network(self, bbox: BBox | None = None) -> bytes:
        """The road network GeoJSON (the map's base layer) in ``bbox``."""
        return self._network_index().collection(bbox)

    def network_extent(self) -> list[float] | None:
        """[west, south, east, north] of the road network; None before a day is loaded."""
        if self.ctx is None:
            return None
        g = self.ctx.graph
        return [float(g.shape_lon.min()), float(g.shape_lat.min()), float(g.shape_lon.max()),
                float(g.shape_lat.max())]  # fmt: skip

    def _network_index(self) -> FeatureIndex:
        assert self.ctx is not None
        graph = self.ctx.graph
        if self._network is None or self._network[0] is not graph:
            self._network = (graph, FeatureIndex(views.network(graph)))
        return self._network[1]

    def model_info(self) -> dict[str, Any]:
        assert self.ctx is not None
        recent = list(self.refresher.scores)
        champion = self.ctx.champion[0] if self.ctx.champion else None
        plan = self.snapshot.plan
        return {
            "unit_type": "h3", "champion_version": champion, "timezone": self.settings.timezone,
            "training": views.training_window(self.settings, champion),
            "live_accuracy": {
                "windows": len(recent),
                "champion_rmse": float(np.mean([e.champion_rmse for e in recent]))
                if recent else None,
                "base_rmse": float(np.mean([e.base_rmse for e in recent])) if recent else None,
            },
            "road_demand_source": self.ctx.demand_source,
            "last_plan": plan.to_json() if plan else {},
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
        return self.ingest_status().alerts[-50:]
