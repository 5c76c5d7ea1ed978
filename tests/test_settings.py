"""Settings: defaults, environment overrides, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from taxinav.settings import Settings


def test_environment_overrides_nested_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXINAV_HOME", "/tmp/elsewhere")
    monkeypatch.setenv("TAXINAV_INGEST__GAP_LIMIT_MIN", "15")
    monkeypatch.setenv("TAXINAV_ROADS__H3_RESOLUTION", "8")
    s = Settings()
    assert s.home == Path("/tmp/elsewhere")
    assert s.warehouse_path == Path("/tmp/elsewhere/warehouse.duckdb")
    assert s.ingest.gap_limit_min == 15
    assert s.roads.h3_resolution == 8


def test_defaults() -> None:
    s = Settings()
    assert s.home == Path("var")
    assert s.timezone == "America/Los_Angeles"
    assert s.ingest.gap_limit_min == 10
    assert s.ingest.max_speed_kmh == 200
    assert s.roads.match_radius_m == 50


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings(timezone="Mars/Olympus")


def test_negative_gap_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXINAV_INGEST__GAP_LIMIT_MIN", "-1")
    with pytest.raises(ValidationError):
        Settings()


SECRET_HOOK = "https://hooks.example.com/services/T0/B0/s3cr3t"


def test_the_webhook_url_is_a_secret_no_dump_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXINAV_MONITORING__WEBHOOK_URL", SECRET_HOOK)
    s = Settings()
    assert s.monitoring.webhook_url is not None
    assert s.monitoring.webhook_url.get_secret_value() == SECRET_HOOK
    for shown in (s.model_dump_json(), str(s.model_dump()), str(s.model_dump(mode="json")),
                  repr(s)):  # fmt: skip
        assert "s3cr3t" not in shown
    assert s.model_dump(mode="json")["monitoring"]["webhook_url"] == "**********"


def test_a_pipeline_run_receives_the_webhook_url_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    from taxinav.mlops.monitoring import WebhookSink
    from taxinav.pipeline.resources import resource_for

    monkeypatch.setenv("TAXINAV_MONITORING__WEBHOOK_URL", SECRET_HOOK)
    resource = resource_for(Settings())
    assert "s3cr3t" not in resource.settings_json  # Dagster stores this with every run
    got = resource.settings().monitoring.webhook_url
    assert got is not None and got.get_secret_value() == SECRET_HOOK
    sinks = [s for s in resource.monitor().sinks if isinstance(s, WebhookSink)]
    assert [s.url for s in sinks] == [SECRET_HOOK]


def test_a_masked_webhook_url_never_becomes_a_target(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from taxinav.mlops.monitoring import WebhookSink
    from taxinav.pipeline.resources import resource_for
    from taxinav.settings import MonitoringSettings

    monkeypatch.delenv("TAXINAV_MONITORING__WEBHOOK_URL", raising=False)
    s = Settings(monitoring=MonitoringSettings.model_validate({"webhook_url": SECRET_HOOK}))
    resource = resource_for(s)  # set in code only: the run cannot have it
    assert "TAXINAV_MONITORING__WEBHOOK_URL" in caplog.text
    assert resource.settings().monitoring.webhook_url is None
    assert not [s for s in resource.monitor().sinks if isinstance(s, WebhookSink)]


def test_without_a_webhook_the_round_trip_keeps_none(monkeypatch: pytest.MonkeyPatch) -> None:
    from taxinav.pipeline.resources import resource_for

    monkeypatch.setenv("TAXINAV_MONITORING__WEBHOOK_URL", SECRET_HOOK)
    s = Settings(monitoring={"webhook_url": None})  # type: ignore[arg-type]
    assert resource_for(s).settings().monitoring.webhook_url is None


def test_a_dagster_run_has_the_webhook_url_and_its_records_do_not(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sqlite3
    import zlib

    import dagster as dg

    from taxinav.pipeline.resources import resource_for

    monkeypatch.setenv("TAXINAV_MONITORING__WEBHOOK_URL", SECRET_HOOK)
    seen: list[str | None] = []

    @dg.asset(required_resource_keys={"taxinav"})
    def probe(context) -> None:  # type: ignore[no-untyped-def]  # (no string annotation here)
        url = context.resources.taxinav.settings().monitoring.webhook_url
        seen.append(url.get_secret_value() if url else None)

    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        result = dg.materialize(
            [probe], instance=instance, resources={"taxinav": resource_for(Settings())}
        )
    assert result.success and seen == [SECRET_HOOK]
    stored = list(tmp_path.rglob("*.db"))
    assert stored  # the run's records: runs, snapshots, events
    for db in stored:
        con = sqlite3.connect(db)
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in con.execute(f"SELECT * FROM {table}"):  # noqa: S608
                for value in row:
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    try:
                        raw += zlib.decompress(raw)
                    except zlib.error:
                        pass
                    assert b"s3cr3t" not in raw, f"{db.name}:{table}"
        con.close()
