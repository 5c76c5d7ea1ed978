"""Stand-ins shared by the append-log tests: an alert sink and a live state that record."""

from __future__ import annotations

from taxinav.mlops.monitoring import Alert
from taxinav.serve.schemas import Fix


class RecordingSink:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


class RecordingLive:
    """Stands in for the live state: keeps what recovery replays into it."""

    def __init__(self) -> None:
        self.fixes: list[Fix] = []
