"""The web map: static pages, the map library, and the map's configuration."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).parents[1] / "web"


def mount(app: FastAPI, node_modules: Path | None, tile_url: str | None) -> None:
    @app.get("/map-config.json", include_in_schema=False)
    def map_config() -> dict[str, str | None]:
        """What the page needs before it has a token (no secrets)."""
        return {"tile_url": tile_url}

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/map/operator.html")

    app.mount("/map", StaticFiles(directory=WEB_DIR, html=True), name="map")
    if node_modules is not None and (node_modules / "leaflet").is_dir():
        app.mount("/vendor/leaflet", StaticFiles(directory=node_modules / "leaflet" / "dist"),
                  name="leaflet")  # fmt: skip
