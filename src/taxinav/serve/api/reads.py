"""What drivers and operators read: demand, a vehicle's route, the road network."""

from collections.abc import Callable
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from taxinav.serve.api.deps import role
from taxinav.serve.auth import Auth, Principal
from taxinav.serve.geo_index import BBox
from taxinav.serve.responses import DemandCollection, GeoJSON, RouteFeature, geojson_responses
from taxinav.serve.service import Conflict, NotFound, Service

View = Annotated[str | None, Query(
    description="The map's view, west,south,east,north in degrees: only features that "
    "intersect it.", examples=["-122.42,37.77,-122.40,37.79"])]  # fmt: skip


def _in_view(bbox: str | None, make: Callable[[BBox | None], bytes]) -> Response:
    try:
        box = BBox.parse(bbox) if bbox is not None else None
    except ValueError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    return Response(make(box), media_type="application/geo+json")


def router(service: Service) -> APIRouter:
    app = APIRouter()
    Reader = Annotated[Principal, Depends(role(service, "driver", "operator"))]
    # One re-draw at a time: draws are CPU under the interpreter lock, so more at once only
    # take turns with each other and with the acknowledgements.
    draws = anyio.CapacityLimiter(1)

    @app.get("/v1/demand", response_class=GeoJSON,
             responses=geojson_responses(DemandCollection, 422))  # fmt: skip
    def demand(_: Reader, unit: Literal["road", "h3"] = "h3", bbox: View = None) -> Response:
        """Forecast pickups over the horizon (``horizon_min``), live vacant supply and their ratio
        (GeoJSON FeatureCollection), of the units in ``bbox`` (all without it)."""
        return _in_view(bbox, lambda box: service.demand(unit, box))

    geo: dict[str, Any] = {"content": {"application/geo+json": {}}}

    @app.get("/v1/vehicles/{vehicle_id}/route", response_class=GeoJSON,
             responses=geojson_responses(RouteFeature, 404, 409))  # fmt: skip
    async def route(vehicle_id: str, p: Reader) -> Response:
        """The vehicle's coordinated cruising route (GeoJSON Feature with per-step chance of a
        passenger and ETA, the next turn, the chance within 5/10/15 minutes). No route: 404
        with ``state`` ``no_data`` (never reported) or ``off_network``; 409 with ``occupied``
        or ``no_route``."""
        Auth.allow(p, ("driver", "operator"), vehicle_id)
        try:
            # A poll is a lookup, answered here; a re-draw takes milliseconds of CPU and runs
            # in a worker thread, so the event loop keeps reading other requests meanwhile.
            body = service.vehicle_route(vehicle_id, draw=False)
            if body is None:
                body = await anyio.to_thread.run_sync(service.vehicle_route, vehicle_id,
                                                      limiter=draws)  # fmt: skip
            return Response(body, media_type="application/geo+json")
        except NotFound as exc:
            return JSONResponse({"detail": str(exc), "state": exc.state}, status_code=404)
        except Conflict as exc:
            return JSONResponse({"detail": str(exc), "state": exc.state}, status_code=409)

    @app.get("/v1/network", response_class=Response, responses={200: geo, 422: {}})
    def network(_: Reader, bbox: View = None) -> Response:
        """The road network (the map's base layer): the segments in ``bbox`` (all without it)."""
        return _in_view(bbox, service.network)

    return app
