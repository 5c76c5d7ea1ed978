"""Row-level validation of raw telemetry, vectorised over whole files.

Every input row ends up in exactly one place: the valid fixes, or the quarantine with the
first rule it broke (``reason``) and the offending ``field``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NUMBER_RE = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
INTEGER_RE = r"^[+-]?\d+$"
# ISO-8601 with an explicit offset; naive local times are ambiguous around DST changes.
ISO_TS_RE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$"
VEHICLE_RE = r"^[A-Za-z0-9_.:\-]{1,64}$"

FIX_SCHEMA = pa.schema(
    [
        ("vehicle_id", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("occupied", pa.bool_()),
        ("source", pa.string()),
        ("line", pa.int64()),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("line", pa.int64()),
        ("vehicle_id", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("field", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),
    ]
)


class Reason(IntEnum):
    """Why a row was quarantined, in the order the rules are checked."""

    OK = 0
    MISSING_FIELD = 1
    MALFORMED_VALUE = 2
    IMPOSSIBLE_COORDINATE = 3
    NULL_ISLAND = 4
    INVALID_OCCUPANCY = 5
    IMPOSSIBLE_TIMESTAMP = 6


@dataclass(frozen=True)
class Rules:
    """Plausibility bounds for a fix."""

    min_ts: datetime
    max_ts: datetime

    @classmethod
    def default(cls, min_year: int = 2000, max_future_days: float = 1.0) -> Rules:
        now = datetime.now(UTC)
        return cls(datetime(min_year, 1, 1, tzinfo=UTC), now + timedelta(days=max_future_days))


@dataclass(frozen=True)
class RawRows:
    """String columns as read from one source, with their physical line numbers."""

    source: str
    line: pa.Array  # int64
    vehicle_id: pa.Array  # string
    lat: pa.Array
    lon: pa.Array
    occupied: pa.Array
    ts: pa.Array
    raw: pa.Array  # the original text, kept for quarantine


@dataclass(frozen=True)
class ValidatedRows:
    fixes: pa.Table  # FIX_SCHEMA
    quarantine: pa.Table  # QUARANTINE_SCHEMA


class _Verdict:
    """First-failure-wins bookkeeping of reasons and fields per row."""

    def __init__(self, n: int) -> None:
        self.reason = np.zeros(n, dtype=np.int8)
        self.field = np.full(n, "", dtype=object)

    def fail(self, mask: np.ndarray, reason: Reason, field: str) -> None:
        sel = mask & (self.reason == Reason.OK)
        self.reason[sel] = reason
        self.field[sel] = field


def _np_mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False), dtype=bool)


def _blank(col: pa.Array) -> np.ndarray:
    trimmed = pc.utf8_trim_whitespace(col)
    return _np_mask(pc.or_kleene(pc.is_null(col), pc.equal(pc.utf8_length(trimmed), 0)))


def _parse_float(col: pa.Array, ok: np.ndarray) -> np.ndarray:
    safe = pc.if_else(pa.array(ok), pc.utf8_trim_whitespace(col), pa.scalar("0"))
    return np.asarray(pc.cast(safe, pa.float64()), dtype=np.float64)


def _parse_occupancy(col: pa.Array, v: _Verdict) -> np.ndarray:
    text = pc.utf8_lower(pc.utf8_trim_whitespace(col))
    is_true = _np_mask(pc.is_in(text, pa.array(["true", "t", "yes"])))
    is_false = _np_mask(pc.is_in(text, pa.array(["false", "f", "no"])))
    is_int = _np_mask(pc.match_substring_regex(text, INTEGER_RE))
    v.fail(~(is_true | is_false | is_int), Reason.MALFORMED_VALUE, "occupied")
    value = np.where(is_true, 1, 0).astype(np.int64)
    if is_int.any():
        ints = np.asarray(pc.cast(pc.if_else(pa.array(is_int), text, pa.scalar("0")), pa.int64()))
        value = np.where(is_int, ints, value)
    v.fail(~np.isin(value, (0, 1)), Reason.INVALID_OCCUPANCY, "occupied")
    return np.asarray(value == 1, dtype=bool)


def _parse_ts(col: pa.Array, v: _Verdict) -> np.ndarray:
    """Unix seconds or ISO-8601 with offset, to int64 microseconds since the epoch."""
    text = pc.utf8_trim_whitespace(col)
    is_unix = _np_mask(pc.match_substring_regex(text, NUMBER_RE))
    is_iso = _np_mask(pc.match_substring_regex(text, ISO_TS_RE))
    v.fail(~(is_unix | is_iso), Reason.MALFORMED_VALUE, "ts")
    micros = np.zeros(len(col), dtype=np.int64)
    if is_unix.any():
        secs = _parse_float(text, is_unix)
        finite = np.isfinite(secs) & (np.abs(secs) < 1e11)
        v.fail(is_unix & ~finite, Reason.IMPOSSIBLE_TIMESTAMP, "ts")
        micros = np.where(is_unix & finite, np.round(secs * 1e6), 0).astype(np.int64)
    if is_iso.any():
        iso = pc.if_else(pa.array(is_iso), text, pa.scalar("1970-01-01T00:00:00Z"))
        iso = pc.replace_substring_regex(iso, r"^(\S{10}) ", r"\1T")
        parsed = pc.cast(iso, pa.timestamp("us", tz="UTC"))
        micros = np.where(is_iso, np.asarray(parsed.cast(pa.int64())), micros)
    return micros


def validate_rows(rows: RawRows, rules: Rules) -> ValidatedRows:
    """Split raw rows into valid fixes and quarantined rows with reasons."""
    n = len(rows.line)
    v = _Verdict(n)
    for name in ("vehicle_id", "lat", "lon", "occupied", "ts"):
        v.fail(_blank(getattr(rows, name)), Reason.MISSING_FIELD, name)
    v.fail(
        ~_np_mask(pc.match_substring_regex(rows.vehicle_id, VEHICLE_RE)),
        Reason.MALFORMED_VALUE,
        "vehicle_id",
    )
    coords = {}
    for name in ("lat", "lon"):
        col = getattr(rows, name)
        ok = _np_mask(pc.match_substring_regex(pc.utf8_trim_whitespace(col), NUMBER_RE))
        v.fail(~ok, Reason.MALFORMED_VALUE, name)
        coords[name] = _parse_float(col, ok)
    lat, lon = coords["lat"], coords["lon"]
    v.fail(~(np.abs(lat) <= 90.0), Reason.IMPOSSIBLE_COORDINATE, "lat")
    v.fail(~(np.abs(lon) <= 180.0), Reason.IMPOSSIBLE_COORDINATE, "lon")
    v.fail((lat == 0.0) & (lon == 0.0), Reason.NULL_ISLAND, "lat")
    occupied = _parse_occupancy(rows.occupied, v)
    micros = _parse_ts(rows.ts, v)
    lo = int(rules.min_ts.timestamp() * 1_000_000)
    hi = int(rules.max_ts.timestamp() * 1_000_000)
    v.fail((micros < lo) | (micros > hi), Reason.IMPOSSIBLE_TIMESTAMP, "ts")

    good = v.reason == Reason.OK
    ts = pa.array(micros, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    fixes = pa.table(
        {
            "vehicle_id": rows.vehicle_id,
            "ts": ts,
            "lat": lat,
            "lon": lon,
            "occupied": occupied,
            "source": pa.array(np.full(n, rows.source, dtype=object), pa.string()),
            "line": rows.line,
        },
        schema=FIX_SCHEMA,
    ).filter(pa.array(good))
    bad = ~good
    quarantine = pa.table(
        {
            "source": pa.array(np.full(int(bad.sum()), rows.source, dtype=object), pa.string()),
            "line": rows.line.filter(pa.array(bad)),
            "vehicle_id": rows.vehicle_id.filter(pa.array(bad)),
            "ts": pa.nulls(int(bad.sum()), pa.timestamp("us", tz="UTC")),
            "field": pa.array(v.field[bad], pa.string()),
            "reason": pa.array([Reason(r).name.lower() for r in v.reason[bad]], pa.string()),
            "raw": rows.raw.filter(pa.array(bad)),
        },
        schema=QUARANTINE_SCHEMA,
    )
    return ValidatedRows(fixes=fixes, quarantine=quarantine)


def malformed_lines(source: str, lines: pa.Array, raw: pa.Array, why: str) -> pa.Table:
    """Quarantine rows for lines whose shape is wrong (wrong number of fields, blank...)."""
    n = len(lines)
    return pa.table(
        {
            "source": pa.array([source] * n, pa.string()),
            "line": lines,
            "vehicle_id": pa.nulls(n, pa.string()),
            "ts": pa.nulls(n, pa.timestamp("us", tz="UTC")),
            "field": pa.nulls(n, pa.string()),
            "reason": pa.array([why] * n, pa.string()),
            "raw": raw,
        },
        schema=QUARANTINE_SCHEMA,
    )
