"""Parsing and validating cabspotting files, line by line."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from taxinav.ingest.cabspotting import cab_id, read_file
from taxinav.ingest.errors import FileFormatError
from taxinav.ingest.validate import Rules

RULES = Rules(datetime(2000, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))

# Newest line first, as in the original files; line numbers are 1-based.
LINES = [
    "37.75153 -122.39447 0 1211033530",  # 1 ok
    "37.75149 -122.39447 1 1211033470",  # 2 ok
    "",  # 3 blank -> malformed_line
    "37.7 -122.4 0",  # 4 three fields -> malformed_line
    "95.0 -122.4 0 1211033400",  # 5 lat out of range
    "37.7 -122.4 2 1211033300",  # 6 occupancy 2
    "37.7 -122.4 0 abc",  # 7 malformed ts
    "0 0 0 1211033200",  # 8 null island
    "37.7 -122.4 0 86400",  # 9 1970: impossible timestamp
    "37.7x -122.4 0 1211033100",  # 10 malformed lat
    "  37.75 \t -122.39   0  1211033000  ",  # 11 odd whitespace, still fine
]


def _write(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def test_valid_lines_load_and_every_bad_line_is_quarantined_with_line_and_reason(
    tmp_path: Path,
) -> None:
    out = read_file(_write(tmp_path / "new_abc.txt.gz", LINES), RULES)
    fixes = out.fixes.to_pylist()
    assert sorted(f["line"] for f in fixes) == [1, 2, 11]
    assert {f["vehicle_id"] for f in fixes} == {"abc"}
    first = next(f for f in fixes if f["line"] == 1)
    assert first["ts"] == datetime(2008, 5, 17, 14, 12, 10, tzinfo=UTC)
    assert (first["lat"], first["lon"], first["occupied"]) == (37.75153, -122.39447, False)
    assert next(f for f in fixes if f["line"] == 2)["occupied"] is True
    q = {r["line"]: (r["reason"], r["field"]) for r in out.quarantine.to_pylist()}
    assert q == {
        3: ("malformed_line", None),
        4: ("malformed_line", None),
        5: ("impossible_coordinate", "lat"),
        6: ("invalid_occupancy", "occupied"),
        7: ("malformed_value", "ts"),
        8: ("null_island", "lat"),
        9: ("impossible_timestamp", "ts"),
        10: ("malformed_value", "lat"),
    }
    assert out.fixes.num_rows + out.quarantine.num_rows == len(LINES)


def test_plain_text_files_are_read_too(tmp_path: Path) -> None:
    path = tmp_path / "new_xyz.txt"
    path.write_text("37.7 -122.4 1 1211033530\n")
    assert read_file(path, RULES).fixes.num_rows == 1


def test_binary_content_fails_naming_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "new_bad.txt.gz", ["37.7 -122.4 0 1211033530", "ab\x00cd"])
    with pytest.raises(FileFormatError) as err:
        read_file(path, RULES)
    assert err.value.line == 2
    assert "new_bad.txt.gz:2" in str(err.value)


def test_file_without_a_single_wellformed_line_fails(tmp_path: Path) -> None:
    path = _write(tmp_path / "new_csv.txt.gz", ["vehicle,ts,lat,lon", "a,1,2,3"])
    with pytest.raises(FileFormatError, match="new_csv.txt.gz:1"):
        read_file(path, RULES)


def test_corrupt_gzip_fails(tmp_path: Path) -> None:
    path = tmp_path / "new_zip.txt.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(FileFormatError, match="cannot decompress"):
        read_file(path, RULES)


def test_cab_id_comes_from_the_file_name() -> None:
    assert cab_id(Path("new_abboip.txt.gz")) == "abboip"
    with pytest.raises(FileFormatError):
        cab_id(Path("abboip.csv"))
