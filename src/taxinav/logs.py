"""Logging, configured once per process for the CLI, the Dagster pipeline and the service.

Every record goes to standard error through one handler on the root logger, as a text line
``2026-11-30T08:01:02.123Z INFO taxinav.serve.service message`` (UTC, milliseconds) or as one
JSON object per line (``ts``, ``level``, ``logger``, ``message`` and, with a traceback,
``exc``). A text record that spans lines (a traceback, a multi-line message) carries the time,
level and logger on each of its lines, so ``grep WARNING`` finds all of it.

Standard error, looked up at each record: a rich progress bar on the console redirects it
above the bar, and a test runner's capture sees it.

Only shells (``cli``, ``pipeline``, ``serve``) call :func:`configure`; everything else logs
through ``logging.getLogger(__name__)`` and never installs a handler.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO, get_args

__all__ = ["Format", "Level", "configure", "configure_default", "current"]

Level = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
Format = Literal["text", "json"]
LEVELS: tuple[str, ...] = get_args(Level)

_HANDLER = "taxinav"  # the name of the one root handler configure() installs
# Libraries that install their own handler (MLflow at import, Dagster's command line in the
# processes that load our code location) or talk at INFO about their plumbing (MLflow's
# database migrations): their records go through the root handler, once, and the plumbing's
# only from WARNING on (as MLflow itself sets them).
_ADOPTED = {"mlflow": logging.NOTSET, "dagster": logging.NOTSET, "alembic": logging.WARNING,
            "huey": logging.WARNING, "sqlalchemy.engine": logging.WARNING}  # fmt: skip


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class TextFormatter(logging.Formatter):
    """``<UTC time> <LEVEL> <logger> <message>``, the prefix repeated on every line."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"{_timestamp(record)} {record.levelname} {record.name} "
        body = record.getMessage()
        if record.exc_info:
            body = f"{body}\n{self.formatException(record.exc_info)}"
        if record.stack_info:
            body = f"{body}\n{self.formatStack(record.stack_info)}"
        return "\n".join(prefix + line for line in body.splitlines() or [""])


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message and, with a traceback, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a record arrives; remembers how it was set."""

    def __init__(self, level: Level, fmt: Format) -> None:
        super().__init__(sys.stderr)
        self.set_name(_HANDLER)
        self.chosen: tuple[Level, Format] = (level, fmt)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:  # StreamHandler.__init__ assigns it
        pass


def _ours() -> _StderrHandler | None:
    found = (h for h in logging.getLogger().handlers if isinstance(h, _StderrHandler))
    return next(found, None)


def configure(level: str, fmt: Format = "text") -> None:
    """Send every record at ``level`` or above to standard error in ``fmt``.

    Idempotent: calling it again (with the same or other values) replaces the one handler it
    installs rather than adding another. Handlers others put on the root logger (a test
    runner's capture) are left alone.

    Args:
        level: DEBUG, INFO, WARNING or ERROR (any case).
        fmt: ``text`` lines or one ``json`` object per line.
    """
    name = _level(level)
    if fmt not in get_args(Format):
        raise ValueError(f"log format {fmt!r}: choose from text, json")
    root = logging.getLogger()
    handler = _ours()
    if handler is None:
        handler = _StderrHandler(name, fmt)
        root.addHandler(handler)
    handler.chosen = (name, fmt)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.setLevel(name)
    # MLflow installs its own handler when imported unless told not to (it is imported
    # lazily, after this); loggers it already configured are taken back here.
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    for logger_name, logger_level in _ADOPTED.items():
        adopted = logging.getLogger(logger_name)
        adopted.handlers.clear()
        adopted.propagate = True
        adopted.setLevel(logger_level)
    logging.captureWarnings(True)  # warnings.warn(...) becomes a WARNING record of py.warnings


def configure_default(level: str, fmt: Format = "text") -> None:
    """:func:`configure`, unless this process has configured logging already: a Dagster run
    started from the command line keeps the command's ``--log-level``."""
    if _ours() is None:
        configure(level, fmt)


def current() -> tuple[Level, Format] | None:
    """The level and format :func:`configure` last set in this process (None: not yet)."""
    handler = _ours()
    return None if handler is None else handler.chosen


def _level(level: str) -> Level:
    for name in LEVELS:
        if level.upper() == name:
            return name  # type: ignore[return-value]  # one of Level's values
    raise ValueError(f"log level {level!r}: choose from {', '.join(LEVELS)}")
