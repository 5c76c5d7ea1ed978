"""GeoJSON and JSON views the API returns (pure functions of the service's state)."""

from __future__ import annotations

import ast
from collections import Counter
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import h3
import numpy as np

from taxinav.features import Slotting
from taxinav.features.sources import cell_of
from taxinav.roads import RoadGraph
from taxinav.routing.route import Route
from taxinav.serve.live import LiveState, Vehicle
from taxinav.serve.online import LiveForecast
from taxinav.settings import Settings

if TYPE_CHECKING:
    from taxinav.serve.planner import DayContext


def route_feature(
    route: Route, graph: RoadGraph, v: Vehicle, clock: datetime | None, timezone: str
) -> dict[str, Any]:
    feature = route.geojson(graph)
    props = feature["properties"]
    props["timezone"] = timezone
    now = clock or v.ts
    props["eta"] = [(now + timedelta(seconds=float(s))).isoformat() for s in route.eta_s]
    props["position"] = {"lat": v.lat, "lon": v.lon, "ts": v.ts.isoformat()}
    props["p_found"] = float(route.p_cumulative[-1]) if route.segments.size else 0.0
    props["p_within"] = chance_within(route.eta_s, route.p_cumulative, WITHIN_MIN)
    props["next_turn"] = next_turn(graph, route.segments)
    return feature


WITHIN_MIN = (5, 10, 15)  # minutes the driver's screen gives the chance of a passenger for


def chance_within(eta_s: np.ndarray, p_cumulative: np.ndarray,
                  minutes: tuple[int, ...]) -> dict[str, float]:  # fmt: skip
    """Chance of having found a passenger within each number of minutes: that of the last
    step ending by then (0 before the first step ends)."""
    out = {}
    for m in minutes:
        done = np.flatnonzero(np.asarray(eta_s) <= 60 * m)
        out[str(m)] = round(float(p_cumulative[done[-1]]), 4) if done.size else 0.0
    return out


def next_turn(graph: RoadGraph, segments: np.ndarray) -> dict[str, Any] | None:
    """The first step onto a street of another name, and the metres before it (at most: the
    taxi is somewhere on its first segment, counted whole); None when the route stays on one
    street."""
    segs = np.asarray(segments, dtype=np.int64)
    if segs.size < 2:
        return None
    here = graph.name[segs[0]]
    driven = float(graph.length_m[segs[0]])
    for s in segs[1:]:
        name = graph.name[s]
        if name != here:
            return {"street": name or graph.highway[s].replace("_", " ") + " road",
                    "in_m": round(driven, 0)}  # fmt: skip
        driven += float(graph.length_m[s])
    return None


def _supply_by_cell(live: LiveState, window: timedelta) -> Counter[str]:
    return Counter(cell_of(v.lat, v.lon, live.res) for _, v in live.latest(window)
                   if not v.occupied)  # fmt: skip


def h3_demand(
    forecast: LiveForecast | None, live: LiveState, cells: list[str], window: timedelta,
    slotting: Slotting,
) -> dict[str, Any]:  # fmt: skip
    """Per H3 cell: forecast pickups over the horizon, vacant taxis now, their ratio."""
    supply = _supply_by_cell(live, window)
    yhat = dict(zip(forecast.unit_id, forecast.yhat.tolist(), strict=True)) if forecast \
        else {}  # fmt: skip
    features = []
    for c in cells:
        ring = [[round(lon, 6), round(lat, 6)] for lat, lon in h3.cell_to_boundary(c)]
        f = float(yhat.get(c, 0.0))
        features.append({
            "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]},
            "properties": {"unit_id": c, "forecast": round(f, 3), "supply": supply.get(c, 0),
                           "ratio": round(f / (supply.get(c, 0) + 1), 3)},
        })  # fmt: skip
    return {"type": "FeatureCollection", "features": features, "properties": {
        "unit": "h3", "model": forecast.model if forecast else "none",
        "slot_start": forecast.slot_start.isoformat() if forecast else None,
        "horizon_min": slotting.horizon_min}}  # fmt: skip


def road_demand(
    ctx: DayContext, live: LiveState, window: timedelta, slotting: Slotting
) -> dict[str, Any]:
    """Per directed road segment with demand or supply: forecast pickups over the horizon
    (the day's road forecasts), vacant taxis on it now, their ratio."""
    clock = live.clock or ctx.origin
    rate = np.asarray(ctx.demand_at((clock - ctx.origin).total_seconds()).rate)
    rows = [(k, v.lat, v.lon) for k, v in live.latest(window) if not v.occupied]
    supply: Counter[int] = Counter()
    if rows:
        snap = live.index.snap(np.array([r[1] for r in rows]), np.array([r[2] for r in rows]),
                               np.full(len(rows), np.nan), radius_m=50.0)  # fmt: skip
        supply.update(int(s) for s in snap.segment.tolist() if s >= 0)
    forecast = rate * slotting.horizon_s
    features = []
    for s in np.flatnonzero((forecast > 0.01) | np.isin(np.arange(rate.size), list(supply))):
        lat, lon = ctx.graph.shape(int(s))
        f = float(forecast[s])
        features.append({
            "type": "Feature",
            "geometry": {"type": "LineString",
                         "coordinates": [[round(float(b), 6), round(float(a), 6)]
                                         for a, b in zip(lat, lon, strict=True)]},
            "properties": {"unit_id": str(int(s)), "forecast": round(f, 4),
                           "supply": supply.get(int(s), 0),
                           "ratio": round(f / (supply.get(int(s), 0) + 1), 4)},
        })  # fmt: skip
    return {"type": "FeatureCollection", "features": features,
            "properties": {"unit": "road", "source": ctx.demand_source,
                           "at": clock.isoformat(),
                           "horizon_min": slotting.horizon_min}}  # fmt: skip


def network(graph: RoadGraph) -> dict[str, Any]:
    """The road network, the map's base layer (no tile server needed)."""
    features = []
    for s in range(graph.n_segments):
        lat, lon = graph.shape(s)
        coords = [[round(float(b), 5), round(float(a), 5)] for a, b in zip(lat, lon, strict=True)]
        features.append({"type": "Feature", "properties": {"segment": s},
                         "geometry": {"type": "LineString", "coordinates": coords}})  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def vehicles(live: LiveState, window: timedelta, extent: list[float] | None,
             received_s_ago: float) -> dict[str, Any]:  # fmt: skip
    """Every vehicle seen within ``window`` of the data's clock, marked inside or outside the
    mapped area (``extent``: west, south, east, north), with the data's time and freshness."""
    w, s, e, n = extent or (-180.0, -90.0, 180.0, 90.0)
    seen = live.latest(window)
    inside = [bool(w <= v.lon <= e and s <= v.lat <= n) for _, v in seen]
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [v.lon, v.lat]},
         "properties": {"vehicle_id": k, "occupied": v.occupied, "ts": v.ts.isoformat(),
                        "in_area": here}}
        for (k, v), here in zip(seen, inside, strict=True)
    ]  # fmt: skip
    return {"type": "FeatureCollection", "features": features, "properties": {
        "clock": live.clock.isoformat() if live.clock else None,
        "received_s_ago": round(received_s_ago, 1), "outside": inside.count(False)}}  # fmt: skip


def training_window(settings: Settings, version: str | None) -> dict[str, Any] | None:
    """The champion's training run (from MLflow): the local days it learned from, was gated
    on and tested on, and its backtest RMSE."""
    if version is None or not settings.mlops.track:
        return None
    import mlflow

    from taxinav.mlops.registry import Registry

    reg = Registry.from_settings(settings)
    mv = mlflow.MlflowClient().get_model_version(reg.name("h3"), version)
    run = mlflow.get_run(mv.run_id) if mv.run_id else None
    if run is None:
        return {"version": version}
    p = run.data.params
    before = _day(p.get("trained_before"))
    per_day = Slotting.of_forecast(settings.forecast).per_day
    return {"version": version, "run_id": run.info.run_id, "trained_before": before,
            "train": _train_days(run.data.tags.get("data_window"), before, per_day),
            "gate": _window(p.get("gate_start"), p.get("gate_days")),
            "test": _window(p.get("test_start"), p.get("test_days")),
            "backtest_rmse": run.data.metrics.get("lightgbm.rmse")}  # fmt: skip


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _window(start: str | None, days: str | None) -> dict[str, Any] | None:
    first = _day(start)
    return {"start": first, "days": int(days or 0)} if first else None


def _train_days(split: str | None, before: date | None, per_day: int) -> dict[str, Any] | None:
    """The training days, from the run's slot split (``{'train': [first, last], …}``) and the
    first day after them."""
    try:
        lo, hi = ast.literal_eval(split or "")["train"]
    except (ValueError, SyntaxError, KeyError, TypeError):
        return None
    if before is None:
        return None
    days = round((int(hi) - int(lo) + 1) / per_day)
    return {"start": before - timedelta(days=days), "days": days}
