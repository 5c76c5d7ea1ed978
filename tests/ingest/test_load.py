"""Loading is idempotent; duplicates and conflicts are counted, never silently lost."""

from __future__ import annotations

import duckdb

from taxinav.ingest.load import load_fixes
from taxinav.warehouse import key_is_unique, table_checksum
from tests.ingest.builders import fixes, no_quarantine


def test_exact_repeats_are_dropped_and_counted(con: duckdb.DuckDBPyConnection) -> None:
    batch = fixes(
        [
            ("a", 0, 37.7, -122.4, False),
            ("a", 0, 37.7, -122.4, False),
            ("a", 60, 37.701, -122.4, True),
        ]
    )
    counts = load_fixes(con, batch, no_quarantine())
    assert (counts.loaded, counts.duplicates, counts.quarantined) == (2, 1, {})
    assert key_is_unique(con, "telemetry")


def test_conflicting_repeat_is_quarantined_and_first_line_wins(
    con: duckdb.DuckDBPyConnection,
) -> None:
    batch = fixes([("a", 0, 37.7, -122.4, False), ("a", 0, 37.9, -122.4, True)])
    counts = load_fixes(con, batch, no_quarantine())
    assert counts.loaded == 1
    assert counts.quarantined == {"conflicting_duplicate": 1}
    assert con.execute("SELECT lat FROM telemetry").fetchall() == [(37.7,)]
    assert con.execute("SELECT line, reason FROM quarantine").fetchall() == [
        (2, "conflicting_duplicate")
    ]


def test_loading_the_same_batch_twice_changes_nothing(con: duckdb.DuckDBPyConnection) -> None:
    batch = fixes(
        [("a", 0, 37.7, -122.4, False), ("a", 0, 37.9, -122.4, True), ("b", 0, 37.7, -122.4, True)]
    )
    load_fixes(con, batch, no_quarantine())
    before = [table_checksum(con, t) for t in ("telemetry", "quarantine")]
    again = load_fixes(con, batch, no_quarantine())
    assert again.loaded == 0 and again.already_loaded == 2
    assert [table_checksum(con, t) for t in ("telemetry", "quarantine")] == before


def test_a_later_file_cannot_overwrite_a_loaded_fix(con: duckdb.DuckDBPyConnection) -> None:
    load_fixes(con, fixes([("a", 0, 37.7, -122.4, False)], source="f1"), no_quarantine())
    counts = load_fixes(con, fixes([("a", 0, 37.8, -122.4, False)], source="f2"), no_quarantine())
    assert counts.quarantined == {"conflicting_duplicate": 1}
    assert con.execute("SELECT lat FROM telemetry").fetchall() == [(37.7,)]
