"""The append log keeps its promise: new segments are durable in their directory, a torn tail
is ignored, any other bad line is counted, quarantined and alerted once while the rest of its
segment is loaded, and a failed write never corrupts the next record."""

from __future__ import annotations

import errno
import json
import os
import stat
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from taxinav.mlops.monitoring import Monitor
from taxinav.serve import wal
from taxinav.serve.ingestion import RECORD_JSON, Ingestion, _validate
from taxinav.serve.wal import AppendLog, Problem
from taxinav.settings import Settings
from tests.serve.fakes import RecordingLive, RecordingSink

T0 = datetime(2008, 5, 19, 20, tzinfo=UTC)


def _fixes(batch: int, vehicles: int = 3) -> list[dict[str, Any]]:
    ts = (T0 + timedelta(seconds=batch)).isoformat()
    return [
        {"vehicle_id": f"v{v}", "ts": ts, "lat": 37.79, "lon": -122.41, "occupied": False}
        for v in range(vehicles)
    ]


def _keys(batches: list[int], vehicles: int = 3) -> Counter[tuple[str, str]]:
    return Counter((f["vehicle_id"], f["ts"]) for b in batches for f in _fixes(b, vehicles))


def _settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "var", data_dir=tmp_path / "data")


def _log_dir(settings: Settings) -> Path:
    return settings.home / "serve" / "log"


def _restart(settings: Settings) -> tuple[Ingestion, RecordingSink, RecordingLive]:
    """A new process: a fresh log and ingestion, recovered."""
    sink, live = RecordingSink(), RecordingLive()
    ingestion = Ingestion(settings, AppendLog(_log_dir(settings)), Counter(), Monitor([sink]))
    ingestion.recover(live.fixes.extend)
    return ingestion, sink, live


def _stored(settings: Settings) -> Counter[tuple[str, str]]:
    """The fixes in the landing segments, with how often each is there."""
    if not any(settings.api_landing_dir.glob("fixes-*.parquet")):
        return Counter()
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT vehicle_id, ts FROM read_parquet('{settings.api_landing_dir}/fixes-*.parquet')"
    ).fetchall()
    con.close()
    return Counter((v, ts.astimezone(UTC).isoformat()) for v, ts in rows)


def _write_segments(settings: Settings, *segments: list[int]) -> list[Path]:
    """One closed segment per list of batch numbers, as a process that then died left them."""
    log = AppendLog(_log_dir(settings))
    for batches in segments:
        for b in batches:
            log.append("fixes", _fixes(b))
        log.rotate()
    log.close()
    return log.closed_segments()


def _quarantined(settings: Settings) -> list[dict[str, Any]]:
    path = _log_dir(settings) / "quarantine" / "lines.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


# torn tails and corrupt lines ---------------------------------------------------------------
def test_a_torn_last_line_of_the_last_segment_is_counted_and_ignored(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    first, last = _write_segments(s, [0, 1, 2], [3, 4])
    with last.open("ab") as fh:  # killed mid-write: never acknowledged
        fh.write(json.dumps({"kind": "fixes", "items": _fixes(5)}).encode()[:40])
    ingestion, sink, live = _restart(s)
    assert ingestion.stats["log_torn_tail"] == 1
    assert ingestion.stats["log_corrupt_lines"] == 0
    assert sink.alerts == []
    assert _stored(s) == _keys([0, 1, 2, 3, 4])
    assert len(live.fixes) == 15
    assert _quarantined(s) == []
    assert not first.exists() and not last.exists()


def test_a_corrupt_middle_line_is_quarantined_alerted_once_and_the_rest_loaded(
    tmp_path: Path,
) -> None:
    s = _settings(tmp_path)
    bad, _ = _write_segments(s, [0, 1, 2], [3])
    lines = bad.read_bytes().splitlines(keepends=True)
    raw = lines[1].replace(b'"lat":', b'"lat\xff":', 1)[:-30] + b"\n"  # a damaged block
    bad.write_bytes(lines[0] + raw + lines[2])
    ingestion, sink, _ = _restart(s)
    assert ingestion.stats["log_corrupt_lines"] == 1
    assert ingestion.stats["log_torn_tail"] == 0
    [alert] = sink.alerts
    assert alert.kind == "log_corrupt"
    assert bad.name in alert.message and "line 2" in alert.message
    [entry] = _quarantined(s)
    assert (entry["file"], entry["line"]) == (bad.name, 2)
    assert entry["raw"].encode("utf-8", "surrogateescape") == raw
    assert _stored(s) == _keys([0, 2, 3])  # the rest of the segment is loaded
    assert not bad.exists()  # loaded and quarantined, so it may go
    ingestion.log.append("fixes", _fixes(9))
    ingestion.flush()  # later flushes do not report it again
    assert ingestion.stats["log_corrupt_lines"] == 1 and len(sink.alerts) == 1
    assert len(_quarantined(s)) == 1
    assert _stored(s) == _keys([0, 2, 3, 9])


def test_a_torn_last_line_of_an_older_segment_is_corruption(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    older, _ = _write_segments(s, [0, 1], [2])
    with older.open("ab") as fh:  # the newer segment proves this one was finished
        fh.write(b'{"kind":"fixes","items":[{"vehicle_id":"v0"')
    ingestion, sink, _ = _restart(s)
    assert ingestion.stats["log_corrupt_lines"] == 1
    assert ingestion.stats["log_torn_tail"] == 0
    assert [a.kind for a in sink.alerts] == ["log_corrupt"]
    assert [e["line"] for e in _quarantined(s)] == [3]
    assert _stored(s) == _keys([0, 1, 2])


GOOD = b'{"kind":"fixes","items":[]}\n'
BAD_LINES = {
    "bad json": b'{"kind":"fixes","items":[{"vehicle_id":}]}\n',
    "not utf-8": b'{"kind":"fixes\xff","items":[]}\n',
    "no kind": b'{"items":[]}\n',
    "no items": b'{"kind":"fixes"}\n',
    "items not a list": b'{"kind":"fixes","items":{"a":1}}\n',
    "an array": b"[1, 2]\n",
    "empty": b"\n",
    "a torn line followed by more": b'{"kind":"fixes","it' + GOOD,
}


@pytest.mark.parametrize("line", BAD_LINES.values(), ids=BAD_LINES.keys())
def test_every_other_bad_line_is_a_problem_even_where_a_torn_tail_is_allowed(
    tmp_path: Path, line: bytes
) -> None:
    seg = tmp_path / "000000001.jsonl"
    seg.write_bytes(GOOD + line + GOOD)
    problems: list[Problem] = []
    records = list(AppendLog.read(seg, problems, torn_tail_ok=True))
    assert records == [("fixes", [])] * 2
    [p] = problems
    assert (p.file, p.line, p.raw, p.torn_tail) == (seg.name, 2, line, False)


SCHEMA_BAD = {
    "a latitude out of range": b'{"kind":"fixes","items":[{"vehicle_id":"v","ts":'
    b'"2008-05-20T07:00:00Z","lat":91.0,"lon":1.0,"occupied":true}]}\n',
    "an unknown kind": b'{"kind":"gossip","items":[]}\n',
    "a ride without its key": b'{"kind":"rides","items":[{"vehicle_id":"v","kind":"pickup",'
    b'"ts":"2008-05-20T07:00:00Z","lat":1.0,"lon":1.0}]}\n',
}


@pytest.mark.parametrize("line", [*BAD_LINES.values(), *SCHEMA_BAD.values()],
                         ids=[*BAD_LINES, *SCHEMA_BAD])  # fmt: skip
def test_the_flushs_undecoded_reading_finds_the_same_problems(tmp_path: Path, line: bytes) -> None:
    seg = tmp_path / "000000001.jsonl"
    seg.write_bytes(GOOD + line + GOOD)
    decoded: list[Problem] = []
    undecoded: list[Problem] = []
    records = list(AppendLog.read(seg, decoded, torn_tail_ok=True, validate=_validate))
    lines = list(AppendLog.read_lines(seg, RECORD_JSON.validate_json, undecoded,
                                      torn_tail_ok=True))  # fmt: skip
    assert len(records) == len(lines) == 2 and lines == [GOOD, GOOD]
    assert [(p.line, p.raw, p.torn_tail) for p in undecoded] == [(2, line, False)]
    assert [(p.line, p.raw, p.torn_tail) for p in decoded] == [(2, line, False)]


def test_a_record_the_schema_rejects_is_a_problem(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    seg = _log_dir(s) / "000000001.jsonl"
    seg.parent.mkdir(parents=True)
    wrong = {"kind": "fixes", "items": [{**_fixes(1)[0], "lat": 1000.0}]}
    unknown = {"kind": "gossip", "items": []}
    seg.write_text("".join(json.dumps(r) + "\n" for r in (
        {"kind": "fixes", "items": _fixes(0)}, wrong, unknown)))  # fmt: skip
    ingestion, sink, _ = _restart(s)
    assert ingestion.stats["log_corrupt_lines"] == 2
    assert [e["line"] for e in _quarantined(s)] == [2, 3]
    assert "lat" in sink.alerts[0].message and "gossip" in sink.alerts[1].message
    assert _stored(s) == _keys([0])


def test_a_segment_stays_until_its_bad_line_is_quarantined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = _settings(tmp_path)
    [seg] = _write_segments(s, [0, 1])
    with seg.open("ab") as fh:
        fh.write(b"garbage\n")
    ingestion = Ingestion(s, AppendLog(_log_dir(s)), Counter(), Monitor([]))

    def full_disk(self: AppendLog, problem: Problem) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(AppendLog, "quarantine", full_disk)
        with pytest.raises(OSError, match="No space"):
            ingestion.flush()
    assert seg.exists() and ingestion.stats["log_corrupt_lines"] == 0
    ingestion.flush()  # the next flush quarantines, loads, and only then deletes
    assert not seg.exists() and ingestion.stats["log_corrupt_lines"] == 1
    assert [e["raw"] for e in _quarantined(s)] == ["garbage\n"]
    assert _stored(s) == _keys([0, 1])


# durability of the directory and of the next record ----------------------------------------
def test_a_new_segment_is_durable_in_its_directory_before_append_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = AppendLog(tmp_path / "log")
    directory = log.directory.stat().st_ino
    synced: list[tuple[str, object]] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            assert st.st_ino == directory
            synced.append(("dir", sorted(os.listdir(log.directory))))  # what it made durable
        else:
            synced.append(("file", st.st_ino))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(wal, "_sync_data", recording_fsync)  # fdatasync of the appends

    def segment(name: str) -> int:
        return (log.directory / name).stat().st_ino

    log.append("fixes", [{"a": 1}])
    assert synced == [("dir", ["000000001.jsonl"]), ("file", segment("000000001.jsonl"))]
    synced.clear()
    log.append("fixes", [{"a": 2}])  # same segment: the directory has not changed
    assert synced == [("file", segment("000000001.jsonl"))]
    synced.clear()
    log.rotate()
    log.append("fixes", [{"a": 3}])
    assert synced == [
        ("dir", ["000000001.jsonl", "000000002.jsonl"]),
        ("file", segment("000000002.jsonl")),
    ]
    synced.clear()
    AppendLog.done(log.directory / "000000001.jsonl")
    assert synced[-1] == ("dir", ["000000002.jsonl", "last_done"])  # the deletion is durable
    synced.clear()
    # A segment prepared ahead (by the flusher) is durable in the directory before it takes
    # appends, so an append to it syncs only itself.
    log.prepare_next()
    assert synced == [("dir", ["000000002.jsonl", "000000003.jsonl", "last_done"])]
    synced.clear()
    log.append("fixes", [{"a": 4}])  # still the open segment 2
    log.rotate()
    log.append("fixes", [{"a": 5}])
    assert synced == [("file", segment("000000002.jsonl")), ("file", segment("000000003.jsonl"))]
    assert [p.name for p in log.closed_segments()] == ["000000002.jsonl"]
    log.close()


def test_segment_numbers_are_never_reused(tmp_path: Path) -> None:
    log = AppendLog(tmp_path)
    for n in range(3):
        log.append("fixes", [{"a": n}])
        log.rotate()
    for seg in log.closed_segments():
        AppendLog.done(seg)
    log.close()
    again = AppendLog(tmp_path)  # a restart with every segment landed and deleted
    again.append("fixes", [{"a": 3}])
    again.rotate()
    assert [p.name for p in again.closed_segments()] == ["000000004.jsonl"]
    assert (tmp_path / "last_done").read_text() == "3\n"
    AppendLog.done(tmp_path / "000000002.jsonl")  # an older one (landed again) changes nothing
    assert (tmp_path / "last_done").read_text() == "3\n"


def test_a_failed_write_is_cut_back_so_the_next_record_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = AppendLog(tmp_path)
    log.append("fixes", [{"a": 1}])
    real_write, calls = os.write, []

    def half_then_full_disk(fd: int, data: Any) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "write", half_then_full_disk)
        with pytest.raises(OSError, match="No space"):
            log.append("fixes", [{"a": 2}])  # not acknowledged
    log.append("fixes", [{"a": 3}])
    log.rotate()
    [seg] = log.closed_segments()
    problems: list[Problem] = []
    assert list(AppendLog.read(seg, problems)) == [("fixes", [{"a": 1}]), ("fixes", [{"a": 3}])]
    assert problems == []


def test_a_segment_that_cannot_be_cut_back_is_closed_and_its_torn_tail_expected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = AppendLog(tmp_path)
    log.append("fixes", [{"a": 1}])
    real_write = os.write

    def half(fd: int, data: Any) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.EIO, "I/O error")

    def broken(*args: object) -> None:
        raise OSError(errno.EIO, "I/O error")

    with monkeypatch.context() as m:
        m.setattr(os, "write", half)
        m.setattr(os, "ftruncate", broken)
        with pytest.raises(OSError, match="I/O"):
            log.append("fixes", [{"a": 2}])
    log.append("fixes", [{"a": 3}])  # in a new segment
    log.rotate()
    first, second = log.closed_segments()
    assert log.may_be_torn(first) and not log.may_be_torn(second)
    problems: list[Problem] = []
    assert list(AppendLog.read(first, problems, torn_tail_ok=True)) == [("fixes", [{"a": 1}])]
    assert [p.torn_tail for p in problems] == [True]
    assert list(AppendLog.read(second)) == [("fixes", [{"a": 3}])]


def test_a_prepared_empty_segment_left_by_a_stop_is_loaded_as_nothing(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    log = AppendLog(_log_dir(s))
    log.append("fixes", _fixes(0))
    log.prepare_next()  # segment 2, empty, when the process stops
    log.close()
    _, sink, live = _restart(s)
    assert len(live.fixes) == 3 and _stored(s) == _keys([0]) and not sink.alerts
    # Both landed (one with nothing in it) and deleted; the new process prepared segment 3.
    left = sorted(_log_dir(s).glob("*.jsonl"))
    assert [p.name for p in left] == ["000000003.jsonl"] and left[0].stat().st_size == 0


def test_ride_event_keys_are_forgotten_two_days_behind_the_clock(tmp_path: Path) -> None:
    ingestion, _, live = _restart(_settings(tmp_path))

    def dropoff(key: str, ts: datetime) -> dict[str, Any]:
        return {"event_key": key, "vehicle_id": "v1", "kind": "dropoff", "ts": ts.isoformat(),
                "lat": 37.79, "lon": -122.41}  # fmt: skip

    events = [dropoff("a", T0), dropoff("b", T0 + timedelta(days=1))]
    assert ingestion.rides(events, lambda _: None).accepted == 2
    ingestion.forget_rides_before(T0 + timedelta(days=2, hours=1))  # "a" is 49 h old
    again = ingestion.rides(events, lambda _: None)
    assert (again.accepted, again.duplicates) == (1, 1)
    # Without being told: an event 49 h after "a" forgets it, and not "b" (25 h old).
    ingestion.rides([dropoff("c", T0 + timedelta(days=2, hours=1))], lambda _: None)
    third = ingestion.rides(events, lambda _: None)
    assert (third.accepted, third.duplicates) == (1, 1)
