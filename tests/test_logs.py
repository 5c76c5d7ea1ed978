"""Logging: one root handler on standard error, UTC time and level on every line (or one JSON
object per record), configured idempotently."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from taxinav import logs
from tests.logging_state import restored_logging

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) \S+ ")


@pytest.fixture(autouse=True)
def _logging_restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from restored_logging(monkeypatch)


def _record(message: str, level: int = logging.INFO, **kw: object) -> logging.LogRecord:
    record = logging.LogRecord("taxinav.serve.service", level, __file__, 1, message, None, None)
    record.created = datetime(2026, 11, 30, 8, 1, 2, 123456, tzinfo=UTC).timestamp()
    record.__dict__.update(kw)
    return record


def test_a_text_line_has_utc_time_level_logger_and_message() -> None:
    line = logs.TextFormatter().format(_record("service up"))
    assert line == "2026-11-30T08:01:02.123Z INFO taxinav.serve.service service up"


def test_every_line_of_a_text_record_carries_time_and_level() -> None:
    try:
        raise ValueError("bad fix")
    except ValueError:
        record = _record("refresh failed\nsecond line", logging.ERROR, exc_info=sys.exc_info())
    lines = logs.TextFormatter().format(record).splitlines()
    assert len(lines) > 3
    assert all(line.startswith("2026-11-30T08:01:02.123Z ERROR taxinav.serve.service ")
               for line in lines)  # fmt: skip
    assert lines[-1].endswith("ValueError: bad fix")


def test_a_json_record_is_one_object_on_one_line() -> None:
    try:
        raise ValueError("bad fix")
    except ValueError:
        record = _record("refresh failed", logging.ERROR, exc_info=sys.exc_info())
    text = logs.JsonFormatter().format(record)
    assert "\n" not in text
    out = json.loads(text)
    assert out["ts"] == "2026-11-30T08:01:02.123Z"
    assert (out["level"], out["logger"], out["message"]) == (
        "ERROR", "taxinav.serve.service", "refresh failed"
    )  # fmt: skip
    assert out["exc"].startswith("Traceback") and out["exc"].endswith("ValueError: bad fix")


def test_configure_is_idempotent() -> None:
    logs.configure("INFO", "text")
    logs.configure("info", "text")
    ours = [h for h in logging.getLogger().handlers if isinstance(h, logs._StderrHandler)]
    assert len(ours) == 1
    assert logging.getLogger().level == logging.INFO
    logs.configure("WARNING", "json")
    again = [h for h in logging.getLogger().handlers if isinstance(h, logs._StderrHandler)]
    assert again == ours
    assert isinstance(ours[0].formatter, logs.JsonFormatter)
    assert logs.current() == ("WARNING", "json")


def test_configure_default_keeps_an_earlier_configuration() -> None:
    logs.configure("DEBUG", "text")
    logs.configure_default("ERROR", "json")
    assert logs.current() == ("DEBUG", "text")


def test_records_go_to_stderr_at_the_level(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("WARNING", "text")
    logging.getLogger("taxinav.x").info("quiet")
    logging.getLogger("taxinav.x").warning("loud %d", 1)
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert LINE.match(line) and line.endswith(" WARNING taxinav.x loud 1")


def test_the_monitors_alert_lines_carry_time_and_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from taxinav.mlops.monitoring import Alert, LogSink

    logs.configure("INFO", "text")
    LogSink().send(Alert("data_late", "no fix for 20 min", "2008-05-20T08:00"))
    (line,) = capsys.readouterr().err.splitlines()
    assert LINE.match(line)
    assert " WARNING taxinav.mlops.monitoring ALERT [taxinav] data_late: no fix" in line


def test_json_lines_from_configure(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO", "json")
    logging.getLogger("taxinav.x").info("a")
    logging.getLogger("taxinav.y").error("b")
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(r["level"], r["logger"], r["message"]) for r in records] == [
        ("INFO", "taxinav.x", "a"), ("ERROR", "taxinav.y", "b")
    ]  # fmt: skip


def test_mlflow_logs_through_the_root_handler() -> None:
    mlflow_logger = logging.getLogger("mlflow")
    mlflow_logger.addHandler(logging.StreamHandler())  # what importing MLflow does
    mlflow_logger.propagate = False
    logs.configure("INFO", "text")
    assert mlflow_logger.handlers == [] and mlflow_logger.propagate
    assert logging.getLogger("alembic").level == logging.WARNING


@pytest.mark.parametrize(("level", "fmt"), [("VERBOSE", "text"), ("INFO", "xml")])
def test_unknown_values_are_refused(level: str, fmt: logs.Format) -> None:
    with pytest.raises(ValueError, match="choose from"):
        logs.configure(level, fmt)
