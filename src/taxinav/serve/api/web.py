"""The web map: static pages, the map library, and the map's configuration."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

# Both inside the installed package, whatever the current folder: the pages, and the map
# library (Leaflet) vendored under web/vendor/ (see its README.md), so the map needs no npm.
WEB_DIR = Path(__file__).resolve().parents[1] / "web"
VENDOR_DIR = WEB_DIR / "vendor"


def mount(app: FastAPI, tile_url: str | None,
          extent: Callable[[], list[float] | None]) -> None:  # fmt: skip
    @app.get("/map-config.json", include_in_schema=False)
    def map_config() -> dict[str, Any]:
        """What the page needs before it has a token (no secrets): optional tiles, and the
        network's extent [west, south, east, north] to open the map on."""
        return {"tile_url": tile_url, "extent": extent()}

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/map/operator.html")

    app.mount("/map", StaticFiles(directory=WEB_DIR, html=True), name="map")
    app.mount("/vendor", StaticFiles(directory=VENDOR_DIR), name="vendor")
