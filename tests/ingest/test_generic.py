"""The generic telemetry schema: CSV with header and Parquet."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taxinav.ingest.errors import FileFormatError
from taxinav.ingest.generic import read_file
from taxinav.ingest.validate import Rules

RULES = Rules(datetime(2000, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))


def test_csv_accepts_unix_and_iso_times_and_boolean_occupancy(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "vehicle_id,ts,lat,lon,occupied,extra\n"
        "cab1,1211033530,37.7,-122.4,1,x\n"
        "cab1,2008-05-17T07:13:10-07:00,37.71,-122.41,false,y\n"
        "cab2,2008-05-17 14:14:10Z,37.72,-122.42,true,z\n"
    )
    out = read_file(path, RULES)
    assert out.quarantine.num_rows == 0
    rows = out.fixes.to_pylist()
    assert [r["ts"] for r in rows] == [
        datetime(2008, 5, 17, 14, 12, 10, tzinfo=UTC),
        datetime(2008, 5, 17, 14, 13, 10, tzinfo=UTC),
        datetime(2008, 5, 17, 14, 14, 10, tzinfo=UTC),
    ]
    assert [r["occupied"] for r in rows] == [True, False, True]
    assert [r["line"] for r in rows] == [2, 3, 4]


def test_csv_bad_rows_name_their_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "vehicle_id,ts,lat,lon,occupied\n"
        "cab1,1211033530,37.7,-122.4,1\n"
        "cab1,1211033590,37.7,-122.4\n"  # line 3: missing a field
        ",1211033650,37.7,-122.4,0\n"  # line 4: empty vehicle
        "cab1,2008-05-17T07:13:10,37.7,-122.4,0\n"  # line 5: no offset
        "cab1,1211033770,37.7,-200,0\n"  # line 6: lon out of range
    )
    out = read_file(path, RULES)
    assert [r["line"] for r in out.fixes.to_pylist()] == [2]
    q = {r["line"]: (r["reason"], r["field"]) for r in out.quarantine.to_pylist()}
    assert q == {
        3: ("malformed_line", None),
        4: ("missing_field", "vehicle_id"),
        5: ("malformed_value", "ts"),
        6: ("impossible_coordinate", "lon"),
    }


def test_missing_required_column_fails_naming_the_header_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("vehicle_id,ts,lat,lon\ncab1,1,2,3\n")
    with pytest.raises(FileFormatError, match=r"t.csv:1: missing column\(s\) occupied"):
        read_file(path, RULES)


def test_parquet_with_typed_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    table = pa.table(
        {
            "vehicle_id": ["a", "b"],
            "ts": pa.array(
                [
                    datetime(2008, 5, 17, 14, 0, tzinfo=UTC),
                    datetime(2008, 5, 17, 14, 1, tzinfo=UTC),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "lat": [37.7, 137.7],
            "lon": [-122.4, -122.4],
            "occupied": [True, False],
        }
    )
    pq.write_table(table, path)
    out = read_file(path, RULES)
    assert out.fixes.column("ts").to_pylist() == [datetime(2008, 5, 17, 14, 0, tzinfo=UTC)]
    assert out.quarantine.to_pylist()[0]["line"] == 2
    assert out.quarantine.to_pylist()[0]["reason"] == "impossible_coordinate"


def test_a_folder_of_the_generic_layout_lands_whole(tmp_path: Path) -> None:
    """What the pipeline's ``landing`` asset does with ``TAXINAV_INGEST__SOURCE=generic``:
    every CSV / Parquet file of the folder, other files left alone."""
    from taxinav.ingest import ingest_directory, list_source_files
    from taxinav.warehouse import connect

    folder = tmp_path / "telemetry"
    folder.mkdir()
    (folder / "2008-05-17.csv").write_text(
        "vehicle_id,ts,lat,lon,occupied\ncab1,1211033530,37.7,-122.4,1\n"
        "cab2,1211033590,37.71,-122.41,0\n"
    )
    pq.write_table(pa.table({"vehicle_id": ["cab3"], "ts": [1211120000], "lat": [37.72],
                             "lon": [-122.42], "occupied": [False]}),
                   folder / "2008-05-18.parquet")  # fmt: skip
    (folder / "README.txt").write_text("not telemetry")
    names = [p.name for p in list_source_files("generic", folder)]
    assert names == ["2008-05-17.csv", "2008-05-18.parquet"]
    con = connect(tmp_path / "landing.duckdb")
    report = ingest_directory(con, "generic", folder, RULES, workers=1, max_speed_kmh=200.0,
                              jump_rounds=1)  # fmt: skip
    assert report.files == 2 and not report.errors
    rows = con.sql("SELECT vehicle_id FROM telemetry ORDER BY ts").fetchall()
    assert [r[0] for r in rows] == ["cab1", "cab2", "cab3"]
    with pytest.raises(FileNotFoundError, match="not a directory"):
        list_source_files("generic", tmp_path / "nowhere")
