"""Skip-if-unchanged bookkeeping for the demo's batch steps.

A step is identified by its name and a fingerprint of its inputs (file sizes/mtimes,
relevant settings, fingerprints of upstream steps). A finished step with the same
fingerprint is not run again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb


def fingerprint(*parts: Any, files: Iterable[Path] = ()) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=str).encode())
    for path in sorted(files):
        st = path.stat()
        h.update(f"{path.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def finished(con: duckdb.DuckDBPyConnection, step: str, fp: str) -> dict[str, Any] | None:
    """The stored summary when ``step`` already ran with fingerprint ``fp``."""
    rows = con.execute(
        "SELECT summary FROM step_runs WHERE step = ? AND fingerprint = ?", [step, fp]
    ).fetchall()
    if not rows:
        return None
    summary = json.loads(rows[0][0]) if rows[0][0] else {}
    return summary if isinstance(summary, dict) else {}


def record(con: duckdb.DuckDBPyConnection, step: str, fp: str, summary: dict[str, Any]) -> None:
    con.execute("DELETE FROM step_runs WHERE step = ?", [step])
    con.execute(
        "INSERT INTO step_runs VALUES (?, ?, ?, ?)",
        [step, fp, datetime.now(UTC), json.dumps(summary, default=str)],
    )


def forget(con: duckdb.DuckDBPyConnection, steps: Iterable[str]) -> None:
    for step in steps:
        con.execute("DELETE FROM step_runs WHERE step = ?", [step])
