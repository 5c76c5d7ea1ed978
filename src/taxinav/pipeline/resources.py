"""What every asset runs with: the settings (serialised, so a run is reproducible), a monitor
for alerts, and the warehouse opened per asset with its duration recorded."""

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import dagster as dg
import duckdb
import ibis
from pydantic import PrivateAttr, SecretStr

from taxinav.calendar import Day
from taxinav.mlops.metrics import build_registry, record_duration, write_textfile
from taxinav.mlops.monitoring import Monitor, make_monitor
from taxinav.mlops.registry import CHAMPION, Registry
from taxinav.pipeline.checks import Check
from taxinav.settings import WEBHOOK_URL_ENV, Settings, with_secrets
from taxinav.warehouse import is_lock_error, open_warehouse

log = logging.getLogger(__name__)
MASK = str(SecretStr("x"))  # what a dump shows of a secret

if TYPE_CHECKING:
    Materialized = dg.MaterializeResult[Any]
else:  # Dagster reads return annotations at run time and wants the bare class
    Materialized = dg.MaterializeResult


class TaxinavResource(dg.ConfigurableResource[Any]):
    """The settings every asset runs with, and the run's monitor."""

    settings_json: str
    _monitor: Monitor | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # One monitor per run: alert episodes span the assets of a run; an accuracy streak
        # that spans days is replayed from the stored hours (mlops.accuracy).
        self._monitor = make_monitor(self.settings().monitoring)

    def settings(self) -> Settings:
        return with_secrets(Settings.model_validate_json(self.settings_json))

    def monitor(self) -> Monitor:
        if self._monitor is None:
            self._monitor = make_monitor(self.settings().monitoring)
        return self._monitor

    def day(self, context: dg.AssetExecutionContext) -> Day:
        return Day.parse(context.partition_key, self.settings().tz)


# For what stays transient on shared stores (a store busy beyond the open's wait, a file
# system hiccup): a step is run again after 2, 4 and 8 s (± jitter) before its run fails.
SHARED_STORE_RETRY = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def resource_for(settings: Settings) -> TaxinavResource:
    url = settings.monitoring.webhook_url
    if url is not None and url.get_secret_value() not in (os.environ.get(WEBHOOK_URL_ENV), MASK):
        log.warning("pipeline runs post alerts to the webhook in %s only, not to one set "
                    "in code", WEBHOOK_URL_ENV)  # fmt: skip
    return TaxinavResource(settings_json=settings.model_dump_json())  # secrets masked


@contextmanager
def warehouse(settings: Settings, step: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse for one asset; its duration is recorded for the metrics. A store still
    held by another process after the open's own wait asks Dagster to run the step again."""
    started = time.perf_counter()
    try:
        con = open_warehouse(settings)
    except duckdb.IOException as exc:
        if is_lock_error(exc):
            raise dg.RetryRequested(max_retries=3, seconds_to_wait=30) from exc
        raise
    try:
        yield con
    finally:
        con.close()
        record_duration(settings.home, step, time.perf_counter() - started)


def write_metrics(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    champions: dict[str, str | None] = {}
    if settings.mlops.track:
        reg = Registry.from_settings(settings)
        champions = {u: reg.alias(u, CHAMPION) for u in settings.forecast.demo_units}
    write_textfile(build_registry(con, settings.home, champions), settings.home)


def meta(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, int | float | str) else str(v) for k, v in summary.items()}


def checked(out: dict[str, Any], checks: list[Check], taxinav: TaxinavResource,
            d: Day) -> Materialized:  # fmt: skip
    """The asset's summary with its quality gates (failed ones alert through the monitor)."""
    monitor = taxinav.monitor()
    results = []
    for c in checks:
        monitor.quality(str(d.day), c.name, c.passed, c.detail)
        results.append(dg.AssetCheckResult(
            check_name=c.name, passed=c.passed, severity=dg.AssetCheckSeverity.ERROR,
            metadata={"value": float(c.value), "detail": c.detail},
        ))  # fmt: skip
    return dg.MaterializeResult(metadata=meta(out), check_results=results)


def check_spec(name: str, asset: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, blocking=True, description=description)


@contextmanager
def spark_backend(settings: Settings) -> Iterator[Any]:
    """An Ibis backend on a Spark session of ``settings.spark`` for one asset."""
    from taxinav.warehouse.spark import spark_session

    c = settings.spark
    scratch = settings.home / "spark"
    with spark_session(c.master, c.shuffle_partitions, c.driver_memory, scratch) as session:
        yield ibis.pyspark.connect(session)
