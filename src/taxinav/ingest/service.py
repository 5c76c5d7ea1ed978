"""Ingesting telemetry files into the warehouse: parse in parallel, load, clean."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa

from taxinav.ingest import cabspotting, generic
from taxinav.ingest.errors import FileFormatError
from taxinav.ingest.jumps import remove_jumps
from taxinav.ingest.load import LoadCounts, load_fixes
from taxinav.ingest.validate import Rules, ValidatedRows

SourceKind = Literal["cabspotting", "generic"]
_READERS: dict[str, Callable[[Path, Rules], ValidatedRows]] = {
    "cabspotting": cabspotting.read_file,
    "generic": generic.read_file,
}


@dataclass
class IngestReport:
    """Outcome of one ingest call."""

    files: int = 0
    empty_files: int = 0  # readable files without a single line
    counts: LoadCounts = field(default_factory=LoadCounts)
    jumps_removed: int = 0  # fixes of the touched vehicles now quarantined as implausible
    errors: list[FileFormatError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def quarantined(self) -> dict[str, int]:
        out = dict(self.counts.quarantined)
        if self.jumps_removed:
            out["implausible_jump"] = out.get("implausible_jump", 0) + self.jumps_removed
        return out


def _telemetry_rows(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM telemetry").fetchall()[0][0])


def _read_one(path: Path, kind: str, rules: Rules) -> ValidatedRows | FileFormatError:
    try:
        return _READERS[kind](path, rules)
    except FileFormatError as exc:
        return exc


def _parsed(
    files: Sequence[Path], kind: str, rules: Rules, workers: int
) -> Iterator[ValidatedRows | FileFormatError]:
    """Parsed files in input order (deterministic batches), in parallel when asked."""
    read = partial(_read_one, kind=kind, rules=rules)
    if workers <= 1 or len(files) <= 1:
        yield from map(read, files)
        return
    # spawn, not fork: the parent may hold DuckDB threads.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        yield from pool.map(read, files, chunksize=4)


def ingest_files(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[Path],
    kind: SourceKind,
    rules: Rules,
    *,
    workers: int = 2,
    max_speed_kmh: float = 200.0,
    jump_rounds: int = 5,
    batch_rows: int = 2_000_000,
    on_file: Callable[[Path], None] | None = None,
) -> IngestReport:
    """Load ``files`` into ``telemetry``/``quarantine`` and quarantine GPS spikes.

    A file that cannot be parsed at all is reported in ``errors`` and loads nothing; the
    other files still load.
    """
    started = time.perf_counter()
    report = IngestReport(files=len(files))
    pending: list[ValidatedRows] = []
    vehicles: set[str] = set()

    def flush() -> None:
        if not pending:
            return
        fixes = pa.concat_tables([p.fixes for p in pending])
        quarantine = pa.concat_tables([p.quarantine for p in pending])
        vehicles.update(fixes.column("vehicle_id").unique().to_pylist())
        report.counts.add(load_fixes(con, fixes, quarantine))
        pending.clear()

    for path, result in zip(files, _parsed(files, kind, rules, workers), strict=True):
        if isinstance(result, FileFormatError):
            report.errors.append(result)
        else:
            report.empty_files += result.fixes.num_rows + result.quarantine.num_rows == 0
            pending.append(result)
            if sum(p.fixes.num_rows for p in pending) >= batch_rows:
                flush()
        if on_file is not None:
            on_file(path)
    flush()
    before = _telemetry_rows(con)
    report.jumps_removed = remove_jumps(con, sorted(vehicles), max_speed_kmh, jump_rounds)
    # Net effect on telemetry: fixes loaded by this call minus those the check took out.
    report.counts.loaded += _telemetry_rows(con) - before
    report.seconds = time.perf_counter() - started
    return report
