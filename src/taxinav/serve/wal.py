"""An append-only log of accepted items: written and fsynced before the API acknowledges
them, loaded into the landing store by a background flusher, replayed on restart.

Segments are JSON-lines files ``<seq>.jsonl``; the open one takes appends, a rotation closes
it, and a closed segment is deleted only after its items are in the landing store. Loading is
idempotent, so a crash between loading and deleting only loads a segment twice. Segment
numbers are never reused, even after every segment was deleted (``last_done`` keeps the
highest one deleted): the landing store names what it landed by them.

Reading a segment yields its good records and reports every other line as a `Problem`. Only
one kind of problem is expected: a torn tail, the unterminated last line of a segment whose
writer died (or failed) mid-write — never acknowledged, so safely ignored. Any other bad line
is corruption of acknowledged data; the caller quarantines it (`AppendLog.quarantine`).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["AppendLog", "Problem", "Record", "fsync_dir"]

Record = tuple[str, list[dict[str, Any]]]  # (kind, items)
LAST_DONE = "last_done"  # file holding the highest segment number deleted so far


@dataclass(frozen=True)
class Problem:
    """A line of a segment that is not a record."""

    file: str  # the segment's file name
    line: int  # 1-based line number
    error: str
    raw: bytes
    torn_tail: bool = False  # the unacknowledged end of a write that never finished: ignore


# Flushes the data and the metadata needed to read it back (the file's new size), not its
# times: under another process's heavy writes its median was 4 ms against 46 ms for fsync
# (docs/decisions.md). Not every platform has it (macOS): there fsync.
_sync_data = getattr(os, "fdatasync", os.fsync)


def fsync_dir(directory: Path) -> None:
    """Make the directory's entries (files created, renamed or removed in it) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check(rec: object) -> Record:
    if not isinstance(rec, dict):
        raise ValueError(f"a record is a JSON object, not {type(rec).__name__}")
    kind, items = rec.get("kind"), rec.get("items")
    if not isinstance(kind, str):
        raise ValueError("record without a string 'kind'")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError("record without an 'items' list of objects")
    return kind, items


class AppendLog:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            fsync_dir(directory.parent)
        self._lock = threading.Lock()
        existing = [int(p.stem) for p in self._segments()]
        # The newest segment of a previous process is the only one it may have left torn
        # (killed mid-write); a segment this process gave up after a failed write is another.
        self._may_be_torn = {max(existing)} if existing else set()
        self._seq = max([*existing, _last_done(directory)], default=0) + 1
        self._fd: int | None = None
        self._size = 0  # bytes of whole records in the open segment
        self._lines = 0
        self._next: tuple[int, int] | None = None  # (seq, fd): the next segment, made durable

    def _segments(self) -> list[Path]:
        return sorted(self.directory.glob("*.jsonl"), key=lambda p: int(p.stem))

    def _path(self, seq: int) -> Path:
        return self.directory / f"{seq:09d}.jsonl"

    def append(self, kind: str, items: list[dict[str, Any]] | bytes) -> None:
        """Durably record ``items`` — dicts, or their JSON array already encoded — and return
        after fsync (of the segment, and of the directory when the segment is new)."""
        raw = items if isinstance(items, bytes) else json.dumps(items, default=str).encode()
        line = b'{"kind":' + json.dumps(kind).encode() + b',"items":' + raw + b"}\n"
        with self._lock:
            if self._fd is None:
                self._open()
            assert self._fd is not None
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(self._fd, view) :]
                _sync_data(self._fd)
            except BaseException:
                self._undo_partial_write()
                raise
            self._size += len(line)
            self._lines += 1

    def _open(self) -> None:
        fd = os.open(self._path(self._seq), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            # A new file's name lives in the directory: without this fsync a crash could
            # lose the whole segment, and with it records already acknowledged.
            fsync_dir(self.directory)
            self._size = os.fstat(fd).st_size
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _undo_partial_write(self) -> None:
        """After a failed append, cut the segment back to its whole records, so the next
        record does not land on a half-written line; if even that fails, close the segment
        (its torn tail is then expected) and continue in a new one."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self._size)
            os.fsync(self._fd)
        except OSError:
            os.close(self._fd)
            self._fd, self._lines = None, 0
            self._may_be_torn.add(self._seq)
            self._seq += 1
            if self._next is not None and self._next[0] == self._seq:
                self._fd, self._next = self._next[1], None
            self._size = 0

    def rotate(self) -> None:
        """Close the open segment (if it holds anything) so the flusher may load it; the
        next one, if prepared, takes the appends."""
        with self._lock:
            if self._fd is None or self._lines == 0:
                return
            os.close(self._fd)
            self._fd, self._lines, self._size = None, 0, 0
            self._seq += 1
            if self._next is not None and self._next[0] == self._seq:
                self._fd, self._next = self._next[1], None

    def prepare_next(self) -> None:
        """Create the segment after the open one and make its directory entry durable now,
        off the acknowledgement path: a directory fsync waits for the file system's journal,
        which another process's writes can fill (the first append to a segment opened
        lazily pays it; one opened here does not)."""
        with self._lock:
            seq = self._seq + (self._fd is not None)
            if self._next is not None:
                return
        fd = os.open(self._path(seq), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fsync_dir(self.directory)
        except BaseException:
            os.close(fd)
            raise
        with self._lock:
            if self._next is None and seq == self._seq + (self._fd is not None):
                if self._fd is None:
                    self._fd = fd  # nothing open: it becomes the open segment
                else:
                    self._next = (seq, fd)
                return
        os.close(fd)  # the log moved on meanwhile (a failed write, a rotation): lazily opened

    def closed_segments(self) -> list[Path]:
        """Segments no longer appended to, oldest first: those numbered below the current
        one (decided under the lock, so a segment opened meanwhile is never included)."""
        with self._lock:
            current = self._seq
            return [p for p in self._segments() if int(p.stem) < current]

    def may_be_torn(self, path: Path) -> bool:
        """Whether the segment may end in an unacknowledged, torn line: the newest segment
        when the log was opened (its writer may have been killed mid-write), or one this
        process closed after a failed write."""
        with self._lock:
            return int(path.stem) in self._may_be_torn

    @staticmethod
    def read(
        path: Path,
        problems: list[Problem] | None = None,
        *,
        torn_tail_ok: bool = False,
        validate: Callable[[str, list[dict[str, Any]]], object] | None = None,
    ) -> Iterator[Record]:
        """The good records of a segment, in order; every other line is skipped and, when
        ``problems`` is given, appended to it. An undecodable unterminated last line is a
        torn tail (`Problem.torn_tail`) when ``torn_tail_ok``, else corruption like any bad
        line. ``validate(kind, items)`` may reject a decoded record by raising ValueError."""

        def decode(line: bytes) -> Record:
            kind, items = _check(json.loads(line))
            if validate is not None:
                validate(kind, items)
            return kind, items

        return _good(path, decode, problems, torn_tail_ok)

    @staticmethod
    def read_lines(
        path: Path,
        check: Callable[[bytes], object],
        problems: list[Problem] | None = None,
        *,
        torn_tail_ok: bool = False,
    ) -> Iterator[bytes]:
        """The good lines of a segment as they are stored, for a reader that decodes them
        itself: like `read`, but a line is good when ``check(line)`` does not raise
        ValueError."""

        def keep(line: bytes) -> bytes:
            check(line)
            return line

        return _good(path, keep, problems, torn_tail_ok)

    def quarantine(self, problem: Problem) -> Path:
        """Keep a bad line for inspection: appended, with its file, line and error, to
        ``quarantine/lines.jsonl`` under the log and fsynced before this returns. ``raw`` is
        the line decoded as UTF-8 with surrogate escapes: ``raw.encode("utf-8",
        "surrogateescape")`` gives back its exact bytes."""
        folder = self.directory / "quarantine"
        target = folder / "lines.jsonl"
        entry = {
            "file": problem.file,
            "line": problem.line,
            "error": problem.error,
            "raw": problem.raw.decode("utf-8", "surrogateescape"),
            "quarantined_at": datetime.now(UTC).isoformat(),
        }
        created = not target.exists()
        if not folder.is_dir():
            folder.mkdir()
            fsync_dir(self.directory)
        with open(target, "ab") as fh:
            fh.write(json.dumps(entry).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        if created:
            fsync_dir(folder)
        return target

    @staticmethod
    def done(path: Path) -> None:
        """Delete a loaded segment, first recording its number as the highest deleted so a
        later log never numbers a segment the same. The directory is fsynced after the
        deletion too: not for safety (a segment that comes back after a crash is loaded
        again, idempotently) but so that a restart does not replay, and re-report the
        problems of, segments already handled."""
        directory, seq = path.parent, int(path.stem)
        if seq > _last_done(directory):
            tmp = directory / f"{LAST_DONE}.tmp"
            with open(tmp, "w", encoding="ascii") as fh:
                fh.write(f"{seq}\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, directory / LAST_DONE)
            fsync_dir(directory)  # the number is durable before the segment is gone
        path.unlink(missing_ok=True)
        fsync_dir(directory)

    def close(self) -> None:
        with self._lock:
            for fd in (self._fd, self._next[1] if self._next else None):
                if fd is not None:
                    os.close(fd)
            self._fd, self._next = None, None


def _good[T](path: Path, decode: Callable[[bytes], T], problems: list[Problem] | None,
             torn_tail_ok: bool) -> Iterator[T]:  # fmt: skip
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            try:
                value = decode(line)
            except ValueError as exc:  # JSON, UTF-8 and validation errors alike
                if problems is not None:
                    problems.append(_problem(path, number, line, exc, torn_tail_ok))
                continue
            yield value


def _last_done(directory: Path) -> int:
    try:
        return int((directory / LAST_DONE).read_text(encoding="ascii"))
    except FileNotFoundError:
        return 0


def _problem(path: Path, number: int, line: bytes, exc: ValueError, torn_ok: bool) -> Problem:
    torn = not line.endswith(b"\n")  # only the last line of a file can be unterminated
    error = " ".join(str(exc).split())
    error = error if len(error) <= 300 else error[:299] + "…"  # a batch's errors can be many
    if torn and torn_ok:
        return Problem(path.name, number, f"torn tail: {error}", line, torn_tail=True)
    what = "unterminated last line" if torn else "bad line"
    return Problem(path.name, number, f"{what}: {error}", line)
