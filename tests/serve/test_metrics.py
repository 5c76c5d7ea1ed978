"""``/metrics``: ever-growing counts are counters, levels are gauges; requests are counted and
timed per route template; the pipeline's failed checks are read from its Dagster instance;
the web map and its vendored library are served from the package, whatever the folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from taxinav.mlops.monitoring import Alert
from taxinav.serve.api import create_app
from taxinav.serve.metrics import (
    HTTP_BUCKETS,
    RequestMetrics,
    RequestMetricsMiddleware,
    exposition,
    pipeline_checks,
)
from taxinav.serve.refresh import Scored
from taxinav.serve.service import Service
from taxinav.settings import MlopsSettings, Settings
from tests.serve.conftest import auth


@pytest.fixture
def service(tmp_path: Path) -> Service:
    """A service that has not loaded a day: enough for its metrics and static pages."""
    return Service(Settings(home=tmp_path / "var", mlops=MlopsSettings(track=False)))


def _families(text: bytes | str) -> dict[str, Any]:
    if isinstance(text, bytes):
        text = text.decode()
    out: dict[str, Any] = {}
    for f in text_string_to_metric_families(text):
        out.setdefault(f"{f.name}:{f.type}", f)
    return out


def _samples(families: dict[str, Any], key: str) -> dict[tuple[str, tuple[Any, ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in families[key].samples}


def test_every_stats_key_is_a_counter_and_levels_stay_gauges(service: Service) -> None:
    service.stats.update(fixes_accepted=5, fixes_repeated=2, rides_rejected=1, refreshes=3,
                         log_corrupt_lines=4, brand_new_count=7)  # fmt: skip
    service.refresher.scores.append(Scored(datetime(2008, 5, 19, tzinfo=UTC), 2.0, 1.5))
    service.monitor.sent.append(Alert("data_late", "no telemetry for 20 min", "now"))
    fams = _families(exposition(service))

    items = _samples(fams, "taxinav_ingested_items:counter")
    name = "taxinav_ingested_items_total"
    assert items[(name, (("kind", "fixes"), ("outcome", "accepted")))] == 5
    assert items[(name, (("kind", "fixes"), ("outcome", "repeated")))] == 2
    assert items[(name, (("kind", "rides"), ("outcome", "rejected")))] == 1
    assert items[(name, (("kind", "rides"), ("outcome", "loaded")))] == 0  # there from the start
    for key, value in (("refreshes", 3), ("log_corrupt_lines", 4), ("brand_new_count", 7),
                       ("log_torn_tail", 0), ("recovered_fixes", 0)):  # fmt: skip
        fam = fams[f"taxinav_{key}:counter"]
        assert [(s.name, s.value) for s in fam.samples] == [(f"taxinav_{key}_total", value)]
    alerts = _samples(fams, "taxinav_alerts:counter")
    assert alerts[("taxinav_alerts_total", (("kind", "data_late"),))] == 1
    assert alerts[("taxinav_alerts_total", (("kind", "accuracy"),))] == 0
    assert "taxinav_alert_webhook_failures:counter" in fams

    for gauge in ("taxinav_data_freshness_seconds", "taxinav_forecast_realised_rmse",
                  "taxinav_monitoring_late_after_seconds", "taxinav_monitoring_accuracy_margin",
                  "taxinav_monitoring_consecutive_windows"):  # fmt: skip
        assert f"{gauge}:gauge" in fams, gauge
    rmse = _samples(fams, "taxinav_forecast_realised_rmse:gauge")
    assert rmse[("taxinav_forecast_realised_rmse", (("model", "champion"),))] == 2.0
    late = _samples(fams, "taxinav_monitoring_late_after_seconds:gauge")
    assert list(late.values()) == [service.settings.monitoring.late_after_min * 60]
    assert "process_start_time_seconds:gauge" in fams
    # No count is left as a gauge: every family named like a count is a counter.
    gauges = [k.split(":")[0] for k in fams if k.endswith(":gauge")]
    assert not [g for g in gauges if g.endswith(("_total", "_count"))]
    assert not [g for g in gauges if g.startswith(("taxinav_refreshes", "taxinav_log_"))]


def _app(metrics: RequestMetrics) -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)

    @app.get("/v1/vehicles/{vehicle_id}/route")
    def route(vehicle_id: str) -> dict[str, str]:
        return {"vehicle": vehicle_id}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    return app


def test_requests_are_counted_and_timed_per_route_template() -> None:
    metrics = RequestMetrics()
    client = TestClient(_app(metrics), raise_server_exceptions=False)
    for vehicle in ("abboip", "abcoij", "abdremlu"):
        assert client.get(f"/v1/vehicles/{vehicle}/route").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/boom").status_code == 500

    fams = _families(_text(metrics.families()))  # as the service's page carries them
    requests = _samples(fams, "taxinav_http_requests:counter")
    total = "taxinav_http_requests_total"
    template = (("method", "GET"), ("route", "/v1/vehicles/{vehicle_id}/route"), ("status", "200"))
    assert requests == {
        (total, template): 3,  # one series for every vehicle: the template, not the path
        (total, (("method", "GET"), ("route", "<unmatched>"), ("status", "404"))): 1,
        (total, (("method", "GET"), ("route", "/boom"), ("status", "500"))): 1,
    }
    latency = _samples(fams, "taxinav_http_request_duration_seconds:histogram")
    name = "taxinav_http_request_duration_seconds"
    assert latency[(f"{name}_count", template)] == 3
    assert latency[(f"{name}_sum", template)] > 0
    buckets = [v for (n, labels), v in latency.items()
               if n == f"{name}_bucket" and dict(labels)["route"].startswith("/v1/")]  # fmt: skip
    assert len(buckets) == len(HTTP_BUCKETS) + 1 and buckets[-1] == 3
    assert buckets == sorted(buckets)  # cumulative


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def _text(families: list[Metric]) -> bytes:
    return generate_latest(_Families(families))


def test_observe_puts_a_request_in_the_first_bucket_that_holds_it() -> None:
    metrics = RequestMetrics(buckets=(0.1, 1.0))
    for seconds in (0.05, 0.1, 0.5, 3.0):
        metrics.observe("/x", "GET", 200, seconds)
    fams = _families(_text(metrics.families()))
    got = _samples(fams, "taxinav_http_request_duration_seconds:histogram")
    labels = (("method", "GET"), ("route", "/x"), ("status", "200"))
    bucket = "taxinav_http_request_duration_seconds_bucket"
    assert [got[(bucket, (("le", le), *labels))] for le in ("0.1", "1.0", "+Inf")] == [2, 3, 4]
    assert got[("taxinav_http_request_duration_seconds_sum", labels)] == pytest.approx(3.65)


def test_the_app_serves_its_request_metrics_and_the_vendored_map_from_any_folder(
    service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no web/node_modules here
    client = TestClient(create_app(service, background=False))  # no lifespan: no day loaded
    page = client.get("/map/driver.html")
    assert page.status_code == 200 and "/vendor/leaflet/leaflet.js" in page.text
    js = client.get("/vendor/leaflet/leaflet.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert 't.version="1.9.4"' in js.text
    css = client.get("/vendor/leaflet/leaflet.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ".leaflet-container" in css.text
    png = client.get("/vendor/leaflet/images/layers.png")  # what leaflet.css points to
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert client.get("/healthz").status_code == 200

    def requests() -> dict[tuple[str, str], float]:
        page = _families(client.get("/metrics", headers=auth("operator")).text)
        return {(s.labels["route"], s.labels["status"]): s.value
                for s in page["taxinav_http_requests:counter"].samples}  # fmt: skip

    seen = requests()
    assert seen[("/healthz", "200")] == 1
    assert seen[("/map/{path}", "200")] == 1
    assert seen[("/vendor/{path}", "200")] == 3  # one series for the folder, not per file
    assert client.get("/metrics").status_code == 401
    seen = requests()
    assert seen[("/metrics", "200")] == 1 and seen[("/metrics", "401")] == 1


def test_the_wheel_carries_the_vendored_library(tmp_path: Path) -> None:
    """Built as `pip install .` would build it (hatchling, from requirements.lock; ~1 s)."""
    import subprocess
    import sys
    import zipfile

    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
           "--no-index", str(root), "-w", str(tmp_path)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    (wheel,) = tmp_path.glob("taxinav-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    vendor = "taxinav/serve/web/vendor/leaflet"
    for name in ("leaflet.js", "leaflet.css", "LICENSE", "images/layers.png",
                 "images/layers-2x.png", "images/marker-icon.png", "images/marker-icon-2x.png",
                 "images/marker-shadow.png"):  # fmt: skip
        assert f"{vendor}/{name}" in names, name
    assert "taxinav/serve/web/driver.html" in names


@dg.asset(check_specs=[dg.AssetCheckSpec("rows_present", asset="fixes"),
                       dg.AssetCheckSpec("no_nulls", asset="fixes")])  # fmt: skip
def fixes(context):  # type: ignore[no-untyped-def]  # Dagster reads the hints at run time
    bad = context.run.tags.get("nulls") == "yes"
    return dg.MaterializeResult(check_results=[
        dg.AssetCheckResult(check_name="rows_present", passed=True),
        dg.AssetCheckResult(check_name="no_nulls", passed=not bad),
    ])  # fmt: skip


def test_failed_pipeline_checks_come_from_the_pipelines_dagster_instance(
    service: Service,
) -> None:
    from taxinav.pipeline.runner import instance_for

    settings = service.settings
    assert pipeline_checks(settings.dagster_home) == []  # the pipeline has not run here
    instance = instance_for(settings)  # where `taxinav pipeline` records its runs
    assert dg.materialize([fixes], instance=instance, tags={"nulls": "yes"}).success
    assert pipeline_checks(settings.dagster_home) == [
        ("fixes", "no_nulls", True), ("fixes", "rows_present", False)]  # fmt: skip
    fams = _families(exposition(service))
    failed = _samples(fams, "taxinav_pipeline_check_failed:gauge")
    name = "taxinav_pipeline_check_failed"
    assert failed == {(name, (("asset", "fixes"), ("check", "no_nulls"))): 1.0,
                      (name, (("asset", "fixes"), ("check", "rows_present"))): 0.0}  # fmt: skip

    assert dg.materialize([fixes], instance=instance, tags={"nulls": "no"}).success
    assert pipeline_checks(settings.dagster_home) == [
        ("fixes", "no_nulls", False), ("fixes", "rows_present", False)]  # fmt: skip
    instance.dispose()
