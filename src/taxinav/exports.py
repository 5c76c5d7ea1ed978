"""Tables for GIS tools: road segments, demand counts, forecasts and routes as GeoDataFrames
(WGS 84), written as GeoParquet, GeoJSON or CSV (geometry as WKT) — what GeoPandas, QGIS and
a spreadsheet open.

Geometry: a road segment is its polyline; an H3 cell its boundary polygon; a route the
polyline of its segments. Times are UTC instants.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import duckdb
import geopandas as gpd
import h3
import pandas as pd
import shapely

Format = Literal["geoparquet", "geojson", "csv"]
FORMATS: tuple[Format, ...] = ("geoparquet", "geojson", "csv")
SUFFIX = {"geoparquet": ".parquet", "geojson": ".geojson", "csv": ".csv"}
CRS = "EPSG:4326"
_SEGMENT_COLUMNS = "segment_id, way_id, highway, name, oneway, length_m, speed_kph, h3_cell"


def segments(con: duckdb.DuckDBPyConnection) -> gpd.GeoDataFrame:
    """Every directed road segment with its attributes and polyline."""
    t = con.sql(
        f"SELECT {_SEGMENT_COLUMNS}, geometry_wkt FROM road_segments ORDER BY segment_id"
    ).df()
    if t.empty:
        raise LookupError("no road network in the warehouse; run `taxinav roads load` first")
    geometry = shapely.from_wkt(t.pop("geometry_wkt").to_numpy())
    return gpd.GeoDataFrame(t, geometry=geometry, crs=CRS)


def _unit_geometry(con: duckdb.DuckDBPyConnection, unit: str, ids: Iterable[str]) -> dict[str, Any]:
    """Geometry of each unit id: a segment's polyline or an H3 cell's boundary."""
    wanted = sorted(set(ids))
    if unit == "h3":
        return {c: shapely.Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(c)])
                for c in wanted}  # fmt: skip
    rows = con.execute(
        "SELECT segment_id::VARCHAR, geometry_wkt FROM road_segments WHERE segment_id::VARCHAR"
        " IN (SELECT unnest($1::VARCHAR[]))", [wanted]
    ).fetchall()  # fmt: skip
    return {sid: shapely.from_wkt(wkt) for sid, wkt in rows}


def _with_geometry(con: duckdb.DuckDBPyConnection, unit: str, t: pd.DataFrame,
                   what: str) -> gpd.GeoDataFrame:  # fmt: skip
    if t.empty:
        raise LookupError(f"no {what}; run the pipeline for that day first")
    shapes = _unit_geometry(con, unit, t["unit_id"])
    missing = sorted(set(t["unit_id"]) - set(shapes))
    if missing:
        raise LookupError(f"{len(missing)} {unit} units of the {what} have no geometry, e.g. "
                          f"{missing[0]!r}; the road network changed since")  # fmt: skip
    geometry = [shapes[u] for u in t["unit_id"]]
    return gpd.GeoDataFrame(t, geometry=geometry, crs=CRS)


def demand(con: duckdb.DuckDBPyConnection, unit: str, start: Any, end: Any) -> gpd.GeoDataFrame:
    """Pickups and vacant taxis per unit and slot in [start, end) (``demand_counts``)."""
    t = con.sql(
        """SELECT unit_id, slot_start, pickups, vacant FROM demand_counts
           WHERE unit_type = $u AND slot_start >= $s AND slot_start < $e
           ORDER BY slot_start, unit_id""",
        params={"u": unit, "s": start, "e": end},
    ).df()
    return _with_geometry(con, unit, t, f"{unit} demand between {start} and {end}")


def forecasts(con: duckdb.DuckDBPyConnection, unit: str, start: Any, end: Any,
              model: str) -> gpd.GeoDataFrame:  # fmt: skip
    """Forecast pickups over the horizon from each slot in [start, end) by ``model`` (the
    daily ``champion`` and ``base``, or a backtest's model name), with the model version and
    whether it was in-sample."""
    t = con.sql(
        """SELECT unit_id, slot_start, yhat, model, model_version, in_sample FROM forecasts
           WHERE unit_type = $u AND model = $m AND slot_start >= $s AND slot_start < $e
           ORDER BY slot_start, unit_id""",
        params={"u": unit, "m": model, "s": start, "e": end},
    ).df()
    if t.empty:
        models = [m for (m,) in con.execute(
            """SELECT DISTINCT model FROM forecasts WHERE unit_type = $1 AND slot_start >= $2
               AND slot_start < $3 ORDER BY model""", [unit, start, end]).fetchall()]  # fmt: skip
        if models:
            raise LookupError(f"no {model} {unit} forecasts between {start} and {end}; "
                              f"models there: {', '.join(models)}")  # fmt: skip
    return _with_geometry(con, unit, t, f"{model} {unit} forecasts between {start} and {end}")


def routes(features: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """Routes given as GeoJSON features (``Route.geojson``): one row per vehicle."""
    if not features:
        raise LookupError("no routes to export")
    frame = gpd.GeoDataFrame.from_features(features, crs=CRS)
    for col in frame.columns:  # lists (segment ids, chances) as text: every format takes it
        if col != "geometry" and frame[col].map(lambda v: isinstance(v, list | dict)).any():
            frame[col] = frame[col].map(str)
    return frame


def write(frame: gpd.GeoDataFrame, path: Path, fmt: Format) -> Path:
    """Write ``frame`` as ``fmt`` to ``path`` (replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    if fmt == "geoparquet":
        frame.to_parquet(path, index=False)
    elif fmt == "geojson":
        frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    elif fmt == "csv":
        plain = pd.DataFrame(frame.drop(columns="geometry"))
        plain["geometry_wkt"] = shapely.to_wkt(frame.geometry.to_numpy(), rounding_precision=7)
        plain.to_csv(path, index=False)
    else:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return path
