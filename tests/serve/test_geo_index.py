"""Collections by map view: a bounding box returns exactly the features that intersect it."""

from __future__ import annotations

import json

import pytest

from taxinav.serve.geo_index import BBox, FeatureIndex


def _line(name: str, coords: list[list[float]]) -> dict[str, object]:
    return {"type": "Feature", "properties": {"name": name},
            "geometry": {"type": "LineString", "coordinates": coords}}  # fmt: skip


COLLECTION = {
    "type": "FeatureCollection",
    "features": [
        _line("west", [[0.0, 0.0], [1.0, 1.0]]),
        _line("east", [[5.0, 0.0], [6.0, 0.5]]),
        {"type": "Feature", "properties": {"name": "cell"},
         "geometry": {"type": "Polygon",
                      "coordinates": [[[2.0, 2.0], [3.0, 2.0], [3.0, 3.0], [2.0, 2.0]]]}},
    ],
    "properties": {"unit": "road", "horizon_min": 30},
}  # fmt: skip


def _names(body: bytes) -> list[str]:
    return [f["properties"]["name"] for f in json.loads(body)["features"]]


def test_without_a_view_the_whole_collection_is_served() -> None:
    assert json.loads(FeatureIndex(COLLECTION).collection()) == COLLECTION


@pytest.mark.parametrize(
    ("bbox", "names"),
    [
        ("0.5,0.5,0.6,0.6", ["west"]),  # inside the west line's extent
        ("1.0,1.0,2.0,2.0", ["west", "cell"]),  # touching both corners
        ("4.0,-1.0,7.0,0.2", ["east"]),
        ("3.5,3.5,4.5,4.5", []),  # nothing there
        ("-10,-10,10,10", ["west", "east", "cell"]),
    ],
)
def test_a_view_gets_the_features_that_intersect_it(bbox: str, names: list[str]) -> None:
    body = FeatureIndex(COLLECTION).collection(BBox.parse(bbox))
    assert _names(body) == names
    assert json.loads(body)["properties"] == {"unit": "road", "horizon_min": 30}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("1,2,3", "4 numbers"),
        ("a,b,c,d", "not 4 numbers"),
        ("3,0,1,1", "west < east"),
        ("0,80,1,95", "north ≤ 90"),
        ("nan,0,1,1", "not finite"),
    ],
)
def test_a_bad_view_is_refused_with_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        BBox.parse(text)
