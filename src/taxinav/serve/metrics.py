"""Prometheus metrics of the running service (``GET /metrics``).

Every ever-growing count is a counter (``_total``): each key of ``Service.stats`` — fixes and
rides by outcome as ``taxinav_ingested_items_total{kind,outcome}``, any other key ``k`` as
``taxinav_<k>_total``, so a new key appears without a change here — late fixes, alerts sent,
failed webhook deliveries, and the requests the API answered (:class:`RequestMetrics`, with a
latency histogram per route template). Levels (freshness, live vehicles, realised errors,
durations, the champion, the monitor's thresholds, the pipeline's failed checks) are gauges.
The alerting rules in ``ops/prometheus/taxinav.rules.yml`` are written against these names.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import ProcessCollector, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taxinav.mlops.metrics import durations_path
from taxinav.mlops.monitoring import Alert, WebhookSink
from taxinav.serve.histograms import HTTP_BUCKETS, Histograms

if TYPE_CHECKING:
    from taxinav.serve.service import IngestStatus, Service

__all__ = ["HTTP_BUCKETS", "RequestMetrics", "RequestMetricsMiddleware", "exposition",
           "pipeline_checks"]  # fmt: skip
log = logging.getLogger(__name__)

# Counts exported from the start at 0 (a counter that first appears at N hides that increase
# from rate() and increase()); any other key of ``Service.stats`` appears once it is counted.
KNOWN_ITEMS = {"fixes": ("accepted", "repeated", "rejected", "loaded", "quarantined"),
               "rides": ("accepted", "rejected", "loaded")}  # fmt: skip
KNOWN_COUNTS = ("recovered_fixes", "refreshes", "log_corrupt_lines", "log_torn_tail")
ALERT_KINDS = ("accuracy", "data_late", "data_quality", "log_corrupt")

UNMATCHED = "<unmatched>"  # requests no route took (404s): raw paths would be unbounded labels


def exposition(service: Service) -> bytes:
    """The service's metrics in the Prometheus text format (version 0.0.4)."""
    return bytes(generate_latest(_Page(service)))


class _Page(Collector):
    """One scrape: families built from the service's state as it is now."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterable[Metric]:
        s = self.service
        ingest = s.ingest_status()  # the ingest process's counts with the service's own
        yield from _stats_families(ingest.counts)
        yield from _service_families(s)
        yield from _monitor_families(s, ingest.alerts)
        yield _check_family(pipeline_checks(s.settings.dagster_home))
        yield ingest.phases.family()
        yield from _ingest_process_families(ingest)
        http: RequestMetrics | None = s.http_metrics
        if http is not None:
            yield from http.families()
        # process_start_time_seconds lets a rule tell a counter that appeared at N in a new
        # process (corruption found while recovering the log) from one seen before.
        yield from ProcessCollector(registry=None).collect()


def _metric_name(key: str) -> str:
    return "taxinav_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)


def _stats_families(stats: Mapping[str, int]) -> Iterator[Metric]:
    """``Service.stats``: fixes and rides by kind and outcome, every other key on its own."""
    counts = Counter({f"{kind}_{outcome}": 0 for kind, outcomes in KNOWN_ITEMS.items()
                      for outcome in outcomes})  # fmt: skip
    counts.update(dict.fromkeys(KNOWN_COUNTS, 0))
    counts.update(dict(stats))  # one copy: ingestion threads add keys as they count
    items = CounterMetricFamily("taxinav_ingested_items", "Items received since start, by kind "
                                "and outcome", labels=["kind", "outcome"])  # fmt: skip
    others = []
    for key, n in sorted(counts.items()):
        kind, _, outcome = key.partition("_")
        if kind in KNOWN_ITEMS and outcome:
            items.add_metric([kind, outcome], n)
        else:
            others.append(CounterMetricFamily(_metric_name(key), f"Count of {key} since start",
                                              value=n))  # fmt: skip
    yield items
    yield from others


def _ingest_process_families(ingest: IngestStatus) -> Iterator[Metric]:
    yield _gauge("taxinav_ingest_unread_batches", "Batches acknowledged by the ingest "
                 "processes that the service has not read yet (it applies what it reads): "
                 "growing, the service is falling behind", ingest.unread_batches)  # fmt: skip
    yield _gauge("taxinav_ingest_process_resident_memory_bytes", "Resident memory of the "
                 "ingest processes, together", ingest.ingest_rss_bytes)  # fmt: skip


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _service_families(s: Service) -> Iterator[Metric]:
    yield _gauge("taxinav_data_freshness_seconds", "Seconds since the last accepted fix",
                 time.time() - s.last_ingest)  # fmt: skip
    if s.live is not None:
        late = CounterMetricFamily("taxinav_late_fixes", "Fixes older than the state they "
                                   "would change: behind their vehicle (trips) or behind "
                                   "sealed supply slots (supply)", labels=["part"])  # fmt: skip
        late.add_metric(["trips"], s.live.late)
        late.add_metric(["supply"], s.live.late_supply)
        yield late
        yield _gauge("taxinav_live_vehicles", "Vehicles known to the live state",
                     len(s.live.vehicles))  # fmt: skip
        if s.live.clock is not None:
            yield _gauge("taxinav_data_newest_fix_timestamp_seconds", "Time of the newest fix",
                         s.live.clock.timestamp())  # fmt: skip
    err = GaugeMetricFamily("taxinav_forecast_realised_rmse", "Realised RMSE of the latest "
                            "scored live forecast (pickups over the horizon per H3 cell)",
                            labels=["model"])  # fmt: skip
    if s.refresher.scores:
        last = s.refresher.scores[-1]
        err.add_metric(["champion"], last.champion_rmse)
        err.add_metric(["base"], last.base_rmse)
    yield err
    if s.snapshot.seconds is not None:
        yield _gauge("taxinav_refresh_duration_seconds", "Latest forecast + plan refresh",
                     s.snapshot.seconds)  # fmt: skip
    steps = GaugeMetricFamily("taxinav_pipeline_step_duration_seconds", "Latest duration of a "
                              "pipeline step", labels=["step"])  # fmt: skip
    path = durations_path(s.settings.home)
    for step, seconds in sorted((json.loads(path.read_text()) if path.exists() else {}).items()):
        steps.add_metric([step], float(seconds))
    yield steps
    version = GaugeMetricFamily("taxinav_model_champion_version", "Champion version",
                                labels=["unit_type"])  # fmt: skip
    if s.ctx is not None and s.ctx.champion is not None:
        version.add_metric(["h3"], float(s.ctx.champion[0]))
    yield version


def _monitor_families(s: Service, sent_alerts: list[Alert]) -> Iterator[Metric]:
    """Alerts the monitor sent, failed webhook deliveries, and the thresholds it alerts at
    (the Prometheus rules compare against these, so they follow the settings)."""
    sent = Counter(dict.fromkeys(ALERT_KINDS, 0))
    sent.update(a.kind for a in sent_alerts)
    alerts = CounterMetricFamily("taxinav_alerts", "Alerts the service's monitor sent",
                                 labels=["kind"])  # fmt: skip
    for kind, n in sorted(sent.items()):
        alerts.add_metric([kind], n)
    yield alerts
    failures = sum(k.failures for k in s.monitor.sinks if isinstance(k, WebhookSink))
    yield CounterMetricFamily("taxinav_alert_webhook_failures", "Alert webhook deliveries "
                              "that failed", value=failures)  # fmt: skip
    m = s.settings.monitoring
    yield _gauge("taxinav_monitoring_late_after_seconds", "Telemetry is late after this long "
                 "without a fix (monitoring.late_after_min)", m.late_after_min * 60)  # fmt: skip
    yield _gauge("taxinav_monitoring_accuracy_margin", "Share of the base model's RMSE by which "
                 "the champion's must exceed it to count as worse (monitoring.margin)",
                 m.margin)  # fmt: skip
    yield _gauge("taxinav_monitoring_consecutive_windows", "Consecutive hourly windows the "
                 "champion must trail the base model before an alert "
                 "(monitoring.consecutive_windows)", m.consecutive_windows)  # fmt: skip


# The latest finished evaluation of each check, from the Dagster instance's index (its default
# SQLite storage, which `taxinav pipeline` writes under <home>/dagster). Dagster plans a row
# per check and run and updates its status when the check has run.
_CHECKS_SQL = """
    SELECT asset_key, check_name, execution_status FROM asset_check_executions
    WHERE id IN (SELECT max(id) FROM asset_check_executions
                 WHERE execution_status IN ('SUCCEEDED', 'FAILED')
                 GROUP BY asset_key, check_name)
    ORDER BY asset_key, check_name"""


def pipeline_checks(dagster_home: Path) -> list[tuple[str, str, bool]]:
    """``(asset, check, failed)`` of every data-quality check's latest evaluation by the
    pipeline; empty when the pipeline has not run here (or keeps its runs elsewhere)."""
    index = dagster_home / "history" / "runs" / "index.db"
    if not index.exists():
        return []
    try:
        con = sqlite3.connect(f"{index.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            rows = con.execute(_CHECKS_SQL).fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:  # busy, or a Dagster whose storage differs: no gauge
        log.warning("cannot read the pipeline's check results from %s: %s", index, exc)
        return []
    out = []
    for asset_key, check, status in rows:
        try:
            asset = "/".join(json.loads(asset_key))
        except (TypeError, ValueError):
            asset = str(asset_key)
        out.append((asset, str(check), status == "FAILED"))
    return out


def _check_family(checks: list[tuple[str, str, bool]]) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily("taxinav_pipeline_check_failed", "1 when the latest evaluation of "
                              "the pipeline's data-quality check failed, 0 when it passed",
                              labels=["asset", "check"])  # fmt: skip
    for asset, check, failed in checks:
        gauge.add_metric([asset, check], 1.0 if failed else 0.0)
    return gauge


class RequestMetrics:
    """Requests answered and their latencies per (route template, method, status), as a
    counter and a histogram. One per app."""

    def __init__(self, buckets: Iterable[float] = HTTP_BUCKETS) -> None:
        self.latency = Histograms("taxinav_http_request_duration_seconds", "Time to answer a "
                                  "request, by route template, method and status",
                                  ["route", "method", "status"], buckets)  # fmt: skip

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.latency.observe((route, method, str(status)), seconds)

    def families(self) -> list[Metric]:
        requests = CounterMetricFamily("taxinav_http_requests", "Requests answered, by route "
                                       "template, method and status",
                                       labels=self.latency.labels)  # fmt: skip
        for values, cumulative, _ in self.latency.series():
            requests.add_metric(list(values), cumulative[-1])
        return [requests, self.latency.family()]


def route_template(scope: Scope, root_path: str = "") -> str:
    """The template of the route that took the request (``/v1/vehicles/{vehicle_id}/route``),
    ``/map/{path}`` for a mounted folder, ``<unmatched>`` when none did. Read from the scope
    after the app answered: the router records the route, or a mount extends the root path
    (``root_path``: the one the request came in with)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return f"{path}/{{path}}" if isinstance(route, Mount) else path
    mounted = str(scope.get("root_path", ""))
    if len(mounted) > len(root_path) and mounted.startswith(root_path):
        return f"{mounted[len(root_path) :]}/{{path}}"
    return UNMATCHED


class RequestMetricsMiddleware:
    """Pure ASGI middleware recording every HTTP request in a :class:`RequestMetrics`."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = str(scope.get("root_path", ""))
        status = 500  # an exception that escapes the app becomes a 500 outside it

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe(route_template(scope, root_path), scope["method"], status,
                                 time.perf_counter() - started)  # fmt: skip
