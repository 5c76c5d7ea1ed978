"""Realised errors by hand, one alert per episode, and a webhook that really receives it
(retrying a failing receiver with backoff)."""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pandas as pd
import pytest

from taxinav.mlops.monitoring import (
    Alert,
    Monitor,
    WebhookSink,
    accuracy_alerts,
    realised_errors,
)


def test_realised_errors_per_hour_by_hand() -> None:
    actual = pd.DataFrame({
        "hour": [0, 0, 1, 1],
        "y": [12.0, 20.0, 0.0, 2.0],
        "champion": [15.0, 18.0, 1.0, 2.0],
        "base": [12.0, 20.0, 0.0, 0.0],
    })  # fmt: skip
    got = realised_errors(actual).set_index("hour")
    # Hour 0: champion errors 3, −2 → RMSE √6.5, MAE 2.5, MAPE (3/12 + 2/20)/2 = 0.175.
    assert got.loc[0, "champion_rmse"] == pytest.approx(math.sqrt(6.5))
    assert got.loc[0, "champion_mae"] == pytest.approx(2.5)
    assert got.loc[0, "champion_masked_mape"] == pytest.approx(0.175)
    assert got.loc[0, "base_rmse"] == 0.0
    # Hour 1: base errors 0, 2 → RMSE √2; no actual above 10 → MAPE undefined.
    assert got.loc[1, "base_rmse"] == pytest.approx(math.sqrt(2))
    assert math.isnan(got.loc[1, "base_masked_mape"])


class _Collect:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


def test_an_injected_accuracy_drop_raises_exactly_one_alert() -> None:
    rng = np.random.default_rng(0)
    hours = np.repeat(np.arange(24), 50)
    y = rng.poisson(3.0, hours.size).astype(float)
    champion = y + rng.normal(0, 0.5, hours.size)  # better than the base ...
    champion[(hours >= 8) & (hours < 14)] += 4.0  # ... except for six hours
    frame = pd.DataFrame({"hour": hours, "y": y, "champion": champion,
                          "base": np.full(hours.size, 3.0)})  # fmt: skip
    sink = _Collect()
    fired = accuracy_alerts(Monitor([sink], consecutive_windows=3), realised_errors(frame))
    assert [a.at for a in fired] == ["10"]  # the third bad hour; silent for the rest
    assert sink.alerts == fired


def test_each_new_episode_alerts_again() -> None:
    m = Monitor([], consecutive_windows=2)
    worse = [True, True, True, False, True, False, True, True]
    fired = [m.accuracy_window(str(i), 2.0 if w else 1.0, 1.5) for i, w in enumerate(worse)]
    assert [i for i, a in enumerate(fired) if a is not None] == [1, 7]


def test_late_data_and_failed_checks_alert_once_per_episode() -> None:
    m = Monitor([], late_after_min=15)
    late = [m.freshness(str(i), x) for i, x in enumerate([1, 20, 40, 2, 30])]
    assert [a.kind for a in late if a] == ["data_late", "data_late"]
    checks = [m.quality("t", "null_rate", ok) for ok in (True, False, False, True, False)]
    assert sum(a is not None for a in checks) == 2
    assert m.quality("t", "row_count", False) is not None  # checks are tracked apart


def test_a_corrupt_log_line_alerts_once_per_file_and_line() -> None:
    sink = _Collect()
    m = Monitor([sink])
    first = m.log_corruption("t1", "000000003.jsonl", 7, "bad line: Expecting value")
    assert first is not None and first.kind == "log_corrupt"
    assert "000000003.jsonl line 7" in first.message and "Expecting value" in first.message
    assert m.log_corruption("t2", "000000003.jsonl", 7, "bad line: again") is None
    assert m.log_corruption("t3", "000000003.jsonl", 8, "bad line") is not None
    assert m.log_corruption("t4", "000000004.jsonl", 7, "bad line") is not None
    assert [a.at for a in sink.alerts] == ["t1", "t3", "t4"]


@contextmanager
def _receiver(statuses: list[int]) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback webhook answering each POST with the next of ``statuses`` (then 200)."""
    received: list[dict[str, str]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(statuses[len(received) - 1] if len(received) <= len(statuses)
                               else 200)  # fmt: skip
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/services/T0/B0/s3cr3t", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_webhook_retries_with_backoff_until_the_receiver_accepts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waits: list[float] = []
    with _receiver([500, 500]) as (url, received):
        sink = WebhookSink(url, sleep=waits.append)
        sink.send(Alert("data_late", "no telemetry for 20 min", "t"))
    assert len(received) == 3  # two failures, then accepted
    assert received[0] == received[2] == {"text": "[taxinav] data_late: no telemetry for 20 min"
                                                  " (at t)"}  # fmt: skip
    assert waits == [0.5, 1.0]
    assert sink.failures == 0
    assert "s3cr3t" not in caplog.text


def test_webhook_gives_up_after_the_last_attempt_and_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waits: list[float] = []
    with _receiver([500] * 10) as (url, received):
        sink = WebhookSink(url, sleep=waits.append)
        with caplog.at_level(logging.ERROR, logger="taxinav.mlops.monitoring"):
            sink.send(Alert("data_late", "no telemetry for 20 min", "t"))  # does not raise
    assert len(received) == 4 and waits == [0.5, 1.0, 2.0]
    assert sink.failures == 1
    [failed] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "after 4 attempt" in failed.getMessage() and "127.0.0.1" in failed.getMessage()
    assert "s3cr3t" not in caplog.text and "s3cr3t" not in repr(sink)


def test_webhook_does_not_retry_a_request_the_receiver_refuses() -> None:
    waits: list[float] = []
    with _receiver([404]) as (url, received):
        sink = WebhookSink(url, sleep=waits.append)
        sink.send(Alert("data_late", "no telemetry for 20 min", "t"))
    assert len(received) == 1 and waits == [] and sink.failures == 1


def test_a_url_that_cannot_be_posted_to_fails_at_once_without_showing_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waits: list[float] = []
    sink = WebhookSink("hooks.example.com/services/s3cr3t", sleep=waits.append)  # no scheme
    sink.send(Alert("data_late", "no telemetry for 20 min", "t"))
    assert sink.failures == 1 and waits == []
    assert "not delivered" in caplog.text and "s3cr3t" not in caplog.text


def test_webhook_posts_slack_json_to_a_local_receiver() -> None:
    received: list[dict[str, str]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sink = WebhookSink(f"http://127.0.0.1:{server.server_address[1]}/hook")
        m = Monitor([sink], consecutive_windows=1)
        m.accuracy_window("2008-05-27T18:00", 2.5, 1.0)
    finally:
        server.shutdown()
        server.server_close()
    assert sink.failures == 0
    assert received == [{"text": "[taxinav] accuracy: champion RMSE 2.500 above base 1.000 "
                                 "for 1 windows (at 2008-05-27T18:00)"}]  # fmt: skip


def test_an_unreachable_webhook_is_counted_not_raised() -> None:
    server = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens there now
    waits: list[float] = []
    sink = WebhookSink(f"http://127.0.0.1:{port}/hook", timeout_s=1.0, sleep=waits.append)
    sink.send(Alert("data_late", "no telemetry for 20 min", "t"))
    assert sink.failures == 1 and waits == [0.5, 1.0, 2.0]


def test_monitor_from_settings_logs_and_posts_only_when_configured() -> None:
    from taxinav.mlops.monitoring import LogSink, make_monitor
    from taxinav.settings import MonitoringSettings

    plain = make_monitor(MonitoringSettings())
    assert [type(s) for s in plain.sinks] == [LogSink]
    hooked = make_monitor(
        MonitoringSettings.model_validate({"webhook_url": "http://127.0.0.1:9/x", "margin": 0.1})
    )
    assert [type(s) for s in hooked.sinks] == [LogSink, WebhookSink]
    assert (
        isinstance(hooked.sinks[1], WebhookSink) and hooked.sinks[1].url == "http://127.0.0.1:9/x"
    )
    assert hooked.margin == 0.1 and hooked.consecutive_windows == 3
