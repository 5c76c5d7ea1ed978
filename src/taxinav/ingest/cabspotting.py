"""Reader for the original cabspotting layout: ``new_<cab>.txt[.gz]``, lines
``latitude longitude occupancy unix_time`` in any order."""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from taxinav.ingest.errors import FileFormatError
from taxinav.ingest.validate import RawRows, Rules, ValidatedRows, malformed_lines, validate_rows

FILE_RE = re.compile(r"^new_(?P<cab>[A-Za-z0-9_\-]+)\.txt(\.gz)?$")
_FIELDS = 4


def cab_id(path: Path) -> str:
    """The vehicle id encoded in a cabspotting file name."""
    match = FILE_RE.match(path.name)
    if match is None:
        raise FileFormatError(path, 0, "file name is not of the form new_<cab>.txt[.gz]")
    return match.group("cab")


def list_files(directory: Path) -> list[Path]:
    """All cabspotting files in ``directory``, sorted by name for a deterministic order."""
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory")
    return sorted(p for p in directory.iterdir() if FILE_RE.match(p.name))


def _read_bytes(path: Path) -> bytes:
    if path.suffix != ".gz":
        return path.read_bytes()
    chunks: list[bytes] = []
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                chunks.append(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        line = b"".join(chunks).count(b"\n") + 1
        raise FileFormatError(path, line, f"cannot decompress: {exc}") from exc
    return b"".join(chunks)


def _check_text(path: Path, data: bytes) -> None:
    nul = data.find(b"\x00")
    if nul >= 0:
        raise FileFormatError(path, data.count(b"\n", 0, nul) + 1, "binary content (NUL byte)")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileFormatError(path, line, "not UTF-8 text") from exc


def _lines(data: bytes) -> pa.Array:
    """One string per physical line, blank lines included, so index + 1 is the line number."""
    if not data.strip():
        return pa.array([], pa.string())
    table = pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(column_names=["text"], use_threads=False),
        parse_options=pacsv.ParseOptions(
            delimiter="\x1f", quote_char=False, escape_char=False, ignore_empty_lines=False
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={"text": pa.string()}, strings_can_be_null=False
        ),
    )
    return pc.fill_null(table.column("text").combine_chunks(), "")


def read_file(path: Path, rules: Rules) -> ValidatedRows:
    """Parse and validate one cabspotting file.

    Raises:
        FileFormatError: the file cannot be parsed at all (bad name, compression, encoding, or
            not one line of the expected shape); nothing of it should be loaded.
    """
    vehicle = cab_id(path)
    data = _read_bytes(path)
    _check_text(path, data)
    text = _lines(data)
    n = len(text)
    line_no = pa.array(range(1, n + 1), pa.int64())
    parts = pc.split_pattern_regex(pc.utf8_trim_whitespace(text), r"\s+")
    shaped = pc.equal(pc.list_value_length(parts), _FIELDS)
    shaped = pc.and_(shaped, pc.not_equal(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0))
    if n and not pc.any(shaped).as_py():
        raise FileFormatError(path, 1, "no line has the form 'lat lon occupancy unix_time'")
    bad_shape = malformed_lines(
        str(path.name),
        line_no.filter(pc.invert(shaped)),
        text.filter(pc.invert(shaped)),
        "malformed_line",
    )
    good = parts.filter(shaped)
    rows = RawRows(
        source=path.name,
        line=line_no.filter(shaped),
        vehicle_id=pa.array([vehicle] * len(good), pa.string()),
        lat=pc.list_element(good, 0),
        lon=pc.list_element(good, 1),
        occupied=pc.list_element(good, 2),
        ts=pc.list_element(good, 3),
        raw=text.filter(shaped),
    )
    checked = validate_rows(rows, rules)
    return ValidatedRows(
        fixes=checked.fixes,
        quarantine=pa.concat_tables([bad_shape, checked.quarantine]),
    )
