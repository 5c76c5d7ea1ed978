"""Landing a segment's lines as Parquet: values checked against Python's own reading of the
same times and numbers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from taxinav.serve.landing import LINES_PER_SEGMENT, write_lines, write_segment

FIXES = [
    {"vehicle_id": "a", "ts": "2008-05-20T07:00:00Z", "lat": 37.1, "lon": -122.2,
     "occupied": True},
    {"vehicle_id": "b", "ts": "2008-05-20T09:30:00.250000+02:30", "lat": 0.1 + 0.2,
     "lon": -1e-7, "occupied": False},
    {"vehicle_id": "c", "ts": "2008-05-19T23:59:59.000001-05:45", "lat": -89.999999999,
     "lon": 179.5, "occupied": False},
]  # fmt: skip
RIDES = [
    {"event_key": "k1", "vehicle_id": "a", "kind": "pickup", "ts": "2008-05-20T07:01:00+01:00",
     "lat": 37.0, "lon": -122.0},
]  # fmt: skip


def _line(kind: str, items: list[dict[str, object]]) -> bytes:
    return json.dumps({"kind": kind, "items": items}).encode() + b"\n"


def test_fixes_and_rides_land_with_utc_times_lines_and_exact_numbers(tmp_path: Path) -> None:
    received = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    lines = [_line("fixes", FIXES[:2]), _line("rides", RIDES), _line("fixes", FIXES[2:])]
    out = write_lines(tmp_path, 12, lines, received, "api-w1")
    assert out == {"fixes_landed": 3, "rides_landed": 1}
    fixes = pq.read_table(tmp_path / "fixes-api-w1-000000000012.parquet").to_pylist()
    assert [f["line"] for f in fixes] == [12 * LINES_PER_SEGMENT + i for i in range(3)]
    assert {f["source"] for f in fixes} == {"api-w1"}
    for got, sent in zip(fixes, FIXES, strict=True):
        assert got["ts"] == datetime.fromisoformat(sent["ts"]).astimezone(UTC)  # type: ignore[arg-type]
        assert (got["vehicle_id"], got["lat"], got["lon"], got["occupied"]) == (
            sent["vehicle_id"], sent["lat"], sent["lon"], sent["occupied"])  # fmt: skip
    [ride] = pq.read_table(tmp_path / "rides-api-w1-000000000012.parquet").to_pylist()
    assert ride["ts"] == datetime(2008, 5, 20, 6, 1, tzinfo=UTC)
    assert ride["received_at"] == received and ride["kind"] == "pickup"


def test_a_segment_of_one_kind_lands_one_file_and_nothing_lands_nothing(tmp_path: Path) -> None:
    assert write_lines(tmp_path, 1, [], datetime.now(UTC)) == {}
    assert write_segment(tmp_path, 2, [("fixes", FIXES)], datetime.now(UTC)) == {
        "fixes_landed": 3}  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fixes-000000002.parquet"]


def test_a_line_longer_than_arrows_default_block_lands(tmp_path: Path) -> None:
    many = [{**FIXES[0], "vehicle_id": f"v{i}"} for i in range(30_000)]  # ~2.7 MB in one line
    assert len(_line("fixes", many)) > 2 << 20
    assert write_lines(tmp_path, 3, [_line("fixes", many)], datetime.now(UTC)) == {
        "fixes_landed": 30_000}  # fmt: skip
