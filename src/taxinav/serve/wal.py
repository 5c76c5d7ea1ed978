"""An append-only log of accepted items: written and fsynced before the API acknowledges
them, loaded into the landing store by a background flusher, replayed on restart.

Segments are JSON-lines files ``<seq>.jsonl``; the open one takes appends, a rotation closes
it, and a closed segment is deleted only after its items are in the landing store. Loading is
idempotent, so a crash between loading and deleting only loads a segment twice.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO


class AppendLog:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._seq = max((int(p.stem) for p in self._segments()), default=0) + 1
        self._file: BinaryIO | None = None
        self._lines = 0

    def _segments(self) -> list[Path]:
        return sorted(self.directory.glob("*.jsonl"), key=lambda p: int(p.stem))

    def _path(self, seq: int) -> Path:
        return self.directory / f"{seq:09d}.jsonl"

    def append(self, kind: str, items: list[dict[str, Any]] | bytes) -> None:
        """Durably record ``items`` — dicts, or their JSON array already encoded — and return
        after fsync."""
        raw = items if isinstance(items, bytes) else json.dumps(items, default=str).encode()
        line = b'{"kind":' + json.dumps(kind).encode() + b',"items":' + raw + b"}\n"
        with self._lock:
            if self._file is None:
                self._file = open(self._path(self._seq), "ab")  # noqa: SIM115
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._lines += 1

    def rotate(self) -> None:
        """Close the open segment (if it holds anything) so the flusher may load it."""
        with self._lock:
            if self._file is None or self._lines == 0:
                return
            self._file.close()
            self._file, self._lines = None, 0
            self._seq += 1

    def closed_segments(self) -> list[Path]:
        """Segments no longer appended to, oldest first: those numbered below the current
        one (decided under the lock, so a segment opened meanwhile is never included)."""
        with self._lock:
            current = self._seq
            return [p for p in self._segments() if int(p.stem) < current]

    @staticmethod
    def read(path: Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Records of a segment; a torn last line (crash mid-write, never acknowledged) is
        skipped."""
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                yield str(rec["kind"]), list(rec["items"])

    @staticmethod
    def done(path: Path) -> None:
        path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
