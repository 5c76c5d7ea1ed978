"""Ingestion of real cabspotting files: idempotent for repeated and overlapping files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from taxinav.ingest import Rules, derive_trips_and_spells, ingest_files
from taxinav.warehouse import connect, key_is_unique, table_checksum

pytestmark = pytest.mark.data
CABS = ("new_abboip.txt.gz", "new_abcoij.txt.gz", "new_upthin.txt.gz")
TABLES = ("telemetry", "quarantine", "trips", "vacant_spells", "derivation_counts")


def _overlap(real: Path, tmp: Path) -> Path:
    """A second copy of one cab's file holding only its older half: same rows, other file."""
    lines = gzip.open(real / "cabspotting-sf" / CABS[0], "rt").read().splitlines()
    folder = tmp / "overlap"
    folder.mkdir()
    (folder / CABS[0].removesuffix(".gz")).write_text("\n".join(lines[len(lines) // 2 :]) + "\n")
    return folder / CABS[0].removesuffix(".gz")


def _state(path: Path, batches: list[list[Path]]) -> list[tuple[int, str]]:
    con = connect(path, memory_limit="1GB")
    for files in batches:
        ingest_files(con, files, "cabspotting", Rules.default(), workers=1)
    derive_trips_and_spells(con, gap_limit_min=10)
    assert key_is_unique(con, "telemetry") and key_is_unique(con, "trips")
    out = [table_checksum(con, t) for t in TABLES]
    con.close()
    return out


def test_repeated_and_overlapping_ingests_leave_identical_tables(
    real_data: Path, tmp_path: Path
) -> None:
    files = [real_data / "cabspotting-sf" / c for c in CABS]
    half = _overlap(real_data, tmp_path)
    once = _state(tmp_path / "a.duckdb", [files])
    twice = _state(tmp_path / "b.duckdb", [files, files])
    overlap_after = _state(tmp_path / "c.duckdb", [files, [half]])
    overlap_before = _state(tmp_path / "d.duckdb", [[half], files])
    assert once == twice == overlap_after == overlap_before
    assert once[0][0] > 35_000  # the three cabs really loaded (upthin loses ~14k spikes)


def test_real_file_counts_add_up(real_data: Path, tmp_path: Path) -> None:
    path = real_data / "cabspotting-sf" / CABS[0]
    n_lines = sum(1 for _ in gzip.open(path, "rt"))
    con = connect(tmp_path / "w.duckdb", memory_limit="1GB")
    report = ingest_files(con, [path], "cabspotting", Rules.default(), workers=1)
    in_tables = con.execute(
        "SELECT (SELECT count(*) FROM telemetry) + (SELECT count(*) FROM quarantine)"
    ).fetchall()[0][0]
    assert report.counts.rows_read == n_lines
    assert in_tables + report.counts.duplicates == n_lines
