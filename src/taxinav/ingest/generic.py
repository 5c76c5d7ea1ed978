"""Reader for the documented generic telemetry schema (CSV with header, or Parquet).

Columns: ``vehicle_id`` (text), ``ts`` (unix seconds, or ISO-8601 with offset), ``lat``,
``lon`` (WGS84 degrees), ``occupied`` (0/1/true/false). Extra columns are ignored. For
Parquet files the "line" of a quarantined row is its row number (1-based).
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from taxinav.ingest.errors import FileFormatError
from taxinav.ingest.validate import RawRows, Rules, ValidatedRows, malformed_lines, validate_rows

COLUMNS = ("vehicle_id", "ts", "lat", "lon", "occupied")


def _require_columns(path: Path, names: list[str]) -> None:
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise FileFormatError(path, 1, f"missing column(s) {', '.join(missing)}; have {names}")


def _header(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as fh:
            return next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, EOFError, csv.Error) as exc:
        raise FileFormatError(path, 1, f"cannot read the header: {exc}") from exc


def _read_csv(path: Path) -> tuple[pa.Table, pa.Table]:
    """Rows as strings plus quarantine rows for lines with the wrong number of fields."""
    bad: list[tuple[int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append((int(row.number or 0), str(row.text)))
        return "skip"

    names = _header(path)
    _require_columns(path, names)
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in names}, strings_can_be_null=True
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise FileFormatError(path, 1, f"cannot parse CSV: {exc}") from exc
    return table, malformed_lines(
        path.name,
        pa.array([n for n, _ in bad], pa.int64()),
        pa.array([t for _, t in bad], pa.string()),
        "malformed_line",
    )


def _line_numbers_csv(n_rows: int, skipped: pa.Array) -> pa.Array:
    """Physical line of each kept row: header is line 1, skipped lines leave holes."""
    total = n_rows + len(skipped)
    lines = np.arange(2, total + 2, dtype=np.int64)
    keep = ~np.isin(lines, np.asarray(skipped, dtype=np.int64))
    return pa.array(lines[keep][:n_rows], pa.int64())


def read_file(path: Path, rules: Rules) -> ValidatedRows:
    """Parse and validate one generic telemetry file (``.csv``, ``.csv.gz`` or ``.parquet``)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    if path.suffix == ".parquet":
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise FileFormatError(path, 1, f"cannot read Parquet: {exc}") from exc
        _require_columns(path, table.column_names)
        bad_shape = malformed_lines(
            path.name, pa.array([], pa.int64()), pa.array([], pa.string()), ""
        )
        lines = pa.array(range(1, table.num_rows + 1), pa.int64())
    else:
        table, bad_shape = _read_csv(path)
        lines = _line_numbers_csv(table.num_rows, bad_shape.column("line").combine_chunks())

    def text(name: str) -> pa.Array:
        col = table.column(name).combine_chunks()
        if pa.types.is_timestamp(col.type):
            col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%S%z") if col.type.tz else col
        return col.cast(pa.string())

    cols = {c: text(c) for c in COLUMNS}
    raw = pc.binary_join_element_wise(*[pc.fill_null(cols[c], "") for c in COLUMNS], ",")
    rows = RawRows(source=path.name, line=lines, raw=raw, **cols)
    checked = validate_rows(rows, rules)
    return ValidatedRows(checked.fixes, pa.concat_tables([bad_shape, checked.quarantine]))
