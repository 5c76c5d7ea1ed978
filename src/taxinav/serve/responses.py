"""What the API answers, as types: GeoJSON features with their properties, the vehicles and
the served model. The OpenAPI document (``/docs``) shows them and a generated client can
check against them. Demand and route bodies are serialised once per snapshot and served as
bytes; their models document them, and a test validates real answers against them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi.responses import Response
from pydantic import BaseModel, Field

Position = tuple[float, float]  # [longitude, latitude] in degrees (GeoJSON order)


class Point(BaseModel):
    type: Literal["Point"]
    coordinates: Position


class LineString(BaseModel):
    type: Literal["LineString"]
    coordinates: list[Position]


class Polygon(BaseModel):
    type: Literal["Polygon"]
    coordinates: list[list[Position]] = Field(description="One closed ring (an H3 cell).")


class DemandProperties(BaseModel):
    unit_id: str = Field(description="H3 cell or directed road segment id.")
    forecast: float = Field(description="Forecast pickups over the horizon (horizon_min).")
    supply: int = Field(description="Vacant taxis there now.")
    ratio: float = Field(description="forecast / (supply + 1).")


class DemandFeature(BaseModel):
    type: Literal["Feature"]
    geometry: Polygon | LineString
    properties: DemandProperties


class DemandMeta(BaseModel):
    unit: Literal["h3", "road"]
    horizon_min: int = Field(description="Minutes the forecast counts pickups over.")
    model: str | None = Field(None, description="h3: the model that forecast.")
    slot_start: datetime | None = Field(None, description="h3: the slot forecast from.")
    source: str | None = Field(None, description="road: where the road forecasts come from.")
    at: datetime | None = Field(None, description="road: the time of the live data.")


class DemandCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[DemandFeature]
    properties: DemandMeta


class RoutePosition(BaseModel):
    lat: float
    lon: float
    ts: datetime = Field(description="Time of the taxi's latest fix.")


class NextTurn(BaseModel):
    street: str
    in_m: float = Field(description="Metres before the turn (at most).")


class RouteProperties(BaseModel):
    vehicle_id: str
    segments: list[int] = Field(description="Directed road segments, in driving order.")
    step_start: list[int] = Field(description="Index of each step's first point in the line.")
    wait: list[bool] = Field(description="Whether the taxi waits on the step.")
    eta_s: list[float] = Field(description="Seconds from now to the end of each step.")
    eta: list[datetime] = Field(description="Arrival at the end of each step.")
    p_step: list[float] = Field(description="Chance of a passenger on each step.")
    p_cumulative: list[float] = Field(description="Chance of a passenger by each step's end.")
    p_found: float = Field(description="Chance of a passenger along the whole route.")
    length_m: float
    duration_s: float
    timezone: str = Field(description="The fleet's city (IANA), for local times.")
    position: RoutePosition
    p_within: dict[str, float] = Field(
        description="Chance of a passenger within 5, 10 and 15 minutes (keys: minutes)."
    )
    next_turn: NextTurn | None = Field(description="The next street; null: stays on this one.")


class RouteFeature(BaseModel):
    type: Literal["Feature"]
    geometry: LineString
    properties: RouteProperties


class VehicleProperties(BaseModel):
    vehicle_id: str
    occupied: bool
    ts: datetime = Field(description="Time of the latest fix.")
    in_area: bool = Field(description="Inside the mapped area (the road network's extent).")


class VehicleFeature(BaseModel):
    type: Literal["Feature"]
    geometry: Point
    properties: VehicleProperties


class FleetMeta(BaseModel):
    clock: datetime | None = Field(description="Time of the newest fix (the data's time).")
    received_s_ago: float = Field(description="Wall-clock seconds since fixes last arrived.")
    outside: int = Field(description="Taxis outside the mapped area.")


class VehicleCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[VehicleFeature]
    properties: FleetMeta


class Window(BaseModel):
    start: date = Field(description="First local day.")
    days: int


class Training(BaseModel):
    version: str
    run_id: str | None = None
    train: Window | None = Field(None, description="The days the model learned from.")
    trained_before: date | None = Field(None, description="First local day not trained on.")
    gate: Window | None = Field(None, description="Days of the champion/challenger gate.")
    test: Window | None = Field(None, description="Days of the backtest's test.")
    backtest_rmse: float | None = None


class LiveAccuracy(BaseModel):
    windows: int = Field(description="Scored windows so far.")
    champion_rmse: float | None
    base_rmse: float | None


class ModelInfo(BaseModel):
    unit_type: Literal["h3"]
    champion_version: str | None
    timezone: str = Field(description="The fleet's city (IANA); the days are local days.")
    training: Training | None
    live_accuracy: LiveAccuracy
    road_demand_source: str
    last_plan: dict[str, Any]


class GeoJSON(Response):
    """An answer of GeoJSON bytes (the ``response_class`` that puts a route's model under
    ``application/geo+json`` in the OpenAPI document)."""

    media_type = "application/geo+json"


def geojson_responses(model: type[BaseModel], *errors: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a ``GeoJSON`` route whose answer ``model`` describes."""
    out: dict[int | str, dict[str, Any]] = {200: {"model": model}}
    out.update({code: {} for code in errors})
    return out
