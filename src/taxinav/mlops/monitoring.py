"""Accuracy monitoring: realised errors of served forecasts, and alerts once per episode.

When the actual pickups of a slot are known, the forecasts that were served (the champion's)
and the base model's are scored per hour. An alert fires when the champion has been worse than
the base model for K consecutive windows, when telemetry is late, or when a data-quality check
fails — once per episode: it fires when the condition starts and again only after the
condition has cleared. A corrupt line of the service's append log alerts once per line.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from taxinav.forecast.metrics import mae, masked_mape, rmse
from taxinav.settings import MonitoringSettings

log = logging.getLogger(__name__)


def realised_errors(actual: pd.DataFrame, served: str = "champion",
                    base: str = "base") -> pd.DataFrame:  # fmt: skip
    """Per ``hour``: RMSE, MAE and masked MAPE of the ``served`` and ``base`` columns against
    ``y`` (one row per unit and slot, with its hour)."""
    rows = []
    for hour, g in actual.groupby("hour", sort=True):
        y = g["y"].to_numpy(dtype=np.float64)
        row: dict[str, object] = {"hour": hour, "n": len(g)}
        for name in (served, base):
            p = g[name].to_numpy(dtype=np.float64)
            row[f"{name}_rmse"] = rmse(y, p)
            row[f"{name}_mae"] = mae(y, p)
            row[f"{name}_masked_mape"] = masked_mape(y, p)
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Alert:
    kind: str  # "accuracy", "data_late", "data_quality", "log_corrupt"
    message: str
    at: str  # when it fired (ISO time of the window that triggered it)

    def payload(self) -> dict[str, str]:
        """Slack-compatible JSON body."""
        return {"text": f"[taxinav] {self.kind}: {self.message} (at {self.at})"}


class AlertSink(Protocol):
    def send(self, alert: Alert) -> None: ...


class LogSink:
    def send(self, alert: Alert) -> None:
        log.warning("ALERT %s", alert.payload()["text"])


@dataclass
class WebhookSink:
    """POSTs the alert as Slack-compatible JSON, retrying with exponential backoff (waits of
    ``backoff_s``, doubled after each failed attempt); a delivery that fails every attempt is
    counted in ``failures`` and logged, never raised. The URL is a secret (a Slack webhook's
    path is its credential): it is kept out of the repr and logs show only its host."""

    url: str = field(repr=False)
    timeout_s: float = 5.0
    attempts: int = 4  # the first try and three retries
    backoff_s: float = 0.5  # then 1 s, 2 s
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    failures: int = 0

    def send(self, alert: Alert) -> None:
        body = json.dumps(alert.payload()).encode()
        delay, attempts = self.backoff_s, max(1, self.attempts)
        error: Exception | None = None
        for attempt in range(1, attempts + 1):
            try:
                self._post(body)
                return
            except Exception as exc:  # an alert sink must never take its caller down
                error = exc
                if isinstance(exc, urllib.error.HTTPError):
                    exc.close()
                if not _transient(exc) or attempt == attempts:
                    break
                log.warning("alert webhook %s attempt %d failed (%s); retrying in %.1f s",
                            self.host, attempt, self._redact(exc), delay)  # fmt: skip
                self.sleep(delay)
                delay *= 2
        self.failures += 1
        log.error("alert webhook %s failed after %d attempt(s), alert not delivered: %s (%s)",
                  self.host, attempt, self._redact(error), alert.payload()["text"])  # fmt: skip

    def _post(self, body: bytes) -> None:
        req = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310
            resp.read()

    @property
    def host(self) -> str:
        """What logs may show of the URL."""
        return urllib.parse.urlsplit(self.url).hostname or "(no host)"

    def _redact(self, error: object) -> str:
        return str(error).replace(self.url, f"<webhook at {self.host}>")  # urllib quotes it


def _transient(exc: Exception) -> bool:
    """Worth another try: the network or the receiver failed, not the request itself (a
    4xx other than 429, or a URL that cannot be posted to)."""
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code == 429
    return isinstance(exc, OSError | http.client.HTTPException)


@dataclass
class Episode:
    """A condition that alerts when it starts (after ``after`` consecutive bad windows) and
    then stays quiet until a good window ends the episode."""

    after: int = 1
    streak: int = 0
    active: bool = False

    def update(self, bad: bool) -> bool:
        """True exactly when this window starts an episode."""
        if not bad:
            self.streak, self.active = 0, False
            return False
        self.streak += 1
        if self.streak >= self.after and not self.active:
            self.active = True
            return True
        return False


@dataclass
class Monitor:
    """Feeds windows in time order; sends each alert to every sink; keeps what it sent."""

    sinks: list[AlertSink]
    consecutive_windows: int = 3
    late_after_min: float = 15.0
    margin: float = 0.0  # champion worse than base by more than this share counts as worse
    sent: list[Alert] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._accuracy = Episode(self.consecutive_windows)
        self._late = Episode(1)
        self._quality: dict[str, Episode] = {}
        self._corrupt_lines: set[tuple[str, int]] = set()

    def reset_accuracy(self) -> None:
        """Forget the accuracy streak (before replaying stored windows from the start)."""
        self._accuracy = Episode(self.consecutive_windows)

    def accuracy_window(self, at: str, champion_rmse: float, base_rmse: float) -> Alert | None:
        worse = champion_rmse > base_rmse * (1 + self.margin)
        if not self._accuracy.update(worse):
            return None
        message = (
            f"champion RMSE {champion_rmse:.3f} above base {base_rmse:.3f} "
            f"for {self.consecutive_windows} windows"
        )
        return self._fire(Alert("accuracy", message, at))

    def freshness(self, at: str, minutes_since_last_fix: float) -> Alert | None:
        if not self._late.update(minutes_since_last_fix > self.late_after_min):
            return None
        return self._fire(
            Alert("data_late", f"no telemetry for {minutes_since_last_fix:.0f} min", at)
        )

    def quality(self, at: str, check: str, passed: bool, detail: str = "") -> Alert | None:
        episode = self._quality.setdefault(check, Episode(1))
        if episode.update(not passed):
            return self._fire(Alert("data_quality", f"check {check} failed {detail}".strip(), at))
        return None

    def log_corruption(self, at: str, file: str, line: int, error: str) -> Alert | None:
        """A corrupt line of the append log (acknowledged data that cannot be loaded as it
        is): alerts once per file and line."""
        if (file, line) in self._corrupt_lines:
            return None
        self._corrupt_lines.add((file, line))
        message = f"append log {file} line {line} is corrupt and quarantined: {error}"
        return self._fire(Alert("log_corrupt", message, at))

    def _fire(self, alert: Alert) -> Alert:
        for sink in self.sinks:
            sink.send(alert)
        self.sent.append(alert)
        return alert


def make_monitor(settings: MonitoringSettings) -> Monitor:
    """A monitor that logs every alert and posts it to the webhook when one is configured."""
    sinks: list[AlertSink] = [LogSink()]
    if settings.webhook_url is not None and settings.webhook_url.get_secret_value():
        sinks.append(WebhookSink(settings.webhook_url.get_secret_value()))
    return Monitor(sinks, settings.consecutive_windows, settings.late_after_min, settings.margin)


def accuracy_alerts(monitor: Monitor, errors: pd.DataFrame, served: str = "champion",
                    base: str = "base") -> list[Alert]:  # fmt: skip
    """Run the accuracy check over per-hour realised errors in time order."""
    fired: Iterable[Alert | None] = (
        monitor.accuracy_window(
            str(r["hour"]), float(r[f"{served}_rmse"]), float(r[f"{base}_rmse"])
        )  # fmt: skip
        for r in errors.to_dict("records")
    )
    return [a for a in fired if a is not None]
