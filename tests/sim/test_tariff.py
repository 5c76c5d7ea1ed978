"""The meter is a setting: fares of a configurable tariff, in Python and in SQL."""

from __future__ import annotations

import duckdb
import pytest

from taxinav.guidance.experiment import run_config
from taxinav.settings import Settings
from taxinav.sim import SF_2008, Tariff, meter_fare


def test_the_default_meter_is_san_francisco_2008() -> None:
    # 2 miles: $3.10 with the first 1/5 mile, then 9 fifths at $0.45
    assert meter_fare(2 * 1609.344, 600) == pytest.approx(3.10 + 9 * 0.45)
    assert meter_fare(100.0, 60) == pytest.approx(3.10)  # within the flag drop


def test_a_tariff_charges_distance_beyond_the_included_and_time() -> None:
    t = Tariff(flag_drop=2.0, per_km=1.5, included_km=1.0, per_minute=0.25)
    assert t.fare(5_000.0, 600.0) == pytest.approx(2.0 + 1.5 * 4 + 0.25 * 10)
    assert t.fare(500.0, 0.0) == pytest.approx(2.0)


def test_the_sql_fare_equals_the_python_one() -> None:
    t = Tariff(flag_drop=2.0, per_km=1.5, included_km=1.0, per_minute=0.25)
    rides = [(5_000.0, 600.0), (500.0, 30.0), (12_345.0, 1_800.0)]
    con = duckdb.connect()
    con.execute("CREATE TABLE r (d DOUBLE, s DOUBLE)")
    con.executemany("INSERT INTO r VALUES (?, ?)", rides)
    got = [row[0] for row in con.sql(f"SELECT {t.sql('d', 's')} FROM r").fetchall()]
    assert got == pytest.approx([t.fare(d, s) for d, s in rides])
    sf = con.sql(f"SELECT {SF_2008.sql('d')} FROM r").fetchall()
    assert [x[0] for x in sf] == pytest.approx([meter_fare(d, 0) for d, _ in rides])


def test_the_tariff_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXINAV_SIM__TARIFF__FLAG_DROP", "4.5")
    monkeypatch.setenv("TAXINAV_SIM__TARIFF__PER_MINUTE", "0.3")
    tariff = run_config(Settings()).tariff
    assert tariff.fare(0.0, 600.0) == pytest.approx(4.5 + 3.0)
