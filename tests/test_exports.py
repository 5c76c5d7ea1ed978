"""Exports read back by GeoPandas (GeoParquet, GeoJSON) and pandas (CSV with WKT): the same
geometry and values as put into a small warehouse by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from taxinav import exports
from taxinav.warehouse import connect

T0 = datetime(2008, 5, 20, 15, 0, tzinfo=UTC)
CELL = h3.latlng_to_cell(37.7793, -122.4193, 8)


@pytest.fixture
def con(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = connect(tmp_path / "w.duckdb")
    for sid, wkt in ((7, "LINESTRING (-122.42 37.78, -122.41 37.78)"),
                     (8, "LINESTRING (-122.41 37.78, -122.41 37.79, -122.40 37.79)")):  # fmt: skip
        c.execute(
            """INSERT INTO road_segments VALUES (?, 100, 1, 2, [1, 2], 'primary', 'Market St',
               false, 880.0, 40.0, 37.78, -122.415, ?, ?)""",
            [sid, CELL, wkt],
        )
    c.execute("INSERT INTO demand_counts VALUES ('road', '8', ?, 3, 0), ('h3', ?, ?, 5, 2)",
              [T0, CELL, T0])  # fmt: skip
    c.execute("INSERT INTO forecasts VALUES ('road', 'champion', '7', ?, 1.25, 'v4', false)",
              [T0])  # fmt: skip
    yield c
    c.close()


def _read(path: Path, fmt: exports.Format) -> gpd.GeoDataFrame:
    if fmt == "geoparquet":
        return gpd.read_parquet(path)
    if fmt == "geojson":
        return gpd.read_file(path)
    t = pd.read_csv(path)
    return gpd.GeoDataFrame(t, geometry=shapely.from_wkt(t.pop("geometry_wkt")), crs="EPSG:4326")


@pytest.mark.parametrize("fmt", exports.FORMATS)
def test_segments_come_back_with_their_polylines(con, tmp_path: Path, fmt) -> None:  # type: ignore[no-untyped-def]
    path = exports.write(exports.segments(con), tmp_path / f"s{exports.SUFFIX[fmt]}", fmt)
    back = _read(path, fmt)
    assert back.crs is not None and back.crs.to_epsg() == 4326
    assert [int(v) for v in back["segment_id"]] == [7, 8]
    assert list(back.geometry.iloc[1].coords) == [(-122.41, 37.78), (-122.41, 37.79),
                                                   (-122.40, 37.79)]  # fmt: skip
    assert back["name"].tolist() == ["Market St", "Market St"]
    assert back["length_m"].tolist() == [880.0, 880.0]


@pytest.mark.parametrize("fmt", exports.FORMATS)
def test_demand_of_a_cell_is_its_hexagon(con, tmp_path: Path, fmt) -> None:  # type: ignore[no-untyped-def]
    frame = exports.demand(con, "h3", T0, datetime(2008, 5, 21, tzinfo=UTC))
    back = _read(exports.write(frame, tmp_path / f"d{exports.SUFFIX[fmt]}", fmt), fmt)
    assert back["unit_id"].tolist() == [CELL]
    assert (int(back["pickups"].iloc[0]), int(back["vacant"].iloc[0])) == (5, 2)
    hexagon = back.geometry.iloc[0]
    assert hexagon.geom_type == "Polygon" and len(hexagon.exterior.coords) == 7  # closed ring
    assert hexagon.contains(shapely.Point(-122.4193, 37.7793))
    lat, lon = h3.cell_to_latlng(CELL)
    assert hexagon.centroid.distance(shapely.Point(lon, lat)) < 1e-4


@pytest.mark.parametrize("fmt", exports.FORMATS)
def test_forecasts_keep_model_version_and_segment(con, tmp_path: Path, fmt) -> None:  # type: ignore[no-untyped-def]
    frame = exports.forecasts(con, "road", T0, datetime(2008, 5, 21, tzinfo=UTC), "champion")
    back = _read(exports.write(frame, tmp_path / f"f{exports.SUFFIX[fmt]}", fmt), fmt)
    assert back["yhat"].tolist() == [1.25] and back["model_version"].tolist() == ["v4"]
    assert list(back.geometry.iloc[0].coords) == [(-122.42, 37.78), (-122.41, 37.78)]
    assert pd.Timestamp(back["slot_start"].iloc[0]) == pd.Timestamp(T0)


def test_a_day_without_rows_is_refused_with_a_message(con) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LookupError, match="no road demand"):
        exports.demand(con, "road", datetime(2009, 1, 1, tzinfo=UTC),
                       datetime(2009, 1, 2, tzinfo=UTC))  # fmt: skip


def test_routes_from_geojson_features(tmp_path: Path) -> None:
    line = {"type": "LineString", "coordinates": [[-122.42, 37.78], [-122.41, 37.78]]}
    props = {"vehicle_id": "v1", "segments": [7, 8], "p_found": 0.4}
    frame = exports.routes([{"type": "Feature", "properties": props, "geometry": line}])
    back = gpd.read_file(exports.write(frame, tmp_path / "r.geojson", "geojson"))
    assert back["vehicle_id"].tolist() == ["v1"]
    assert [int(s) for s in np.atleast_1d(back["segments"].iloc[0])] == [7, 8]  # GDAL: a list
    assert back["p_found"].tolist() == [0.4]
