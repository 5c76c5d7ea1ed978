"""Errors raised for input that cannot be read at all."""

from __future__ import annotations

from pathlib import Path


class FileFormatError(ValueError):
    """A file that cannot be parsed at all; nothing of it is loaded."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{line}: {message}")

    def __reduce__(self) -> tuple[type[FileFormatError], tuple[str, int, str]]:
        # Crosses process boundaries from the parsing pool.
        return (FileFormatError, (self.path, self.line, self.message))
