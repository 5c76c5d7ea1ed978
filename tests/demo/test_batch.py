"""The demo's batch job end to end on two real cabs; a second run reuses every step."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from taxinav.demo import run_batch
from taxinav.pipeline.runner import DagsterOrchestrator
from taxinav.settings import ForecastSettings, IngestSettings, RoadsSettings, Settings
from taxinav.warehouse import TABLES, connect, table_checksum
from tests.conftest import data_subset

pytestmark = [pytest.mark.data, pytest.mark.slow]
CABS = ("new_abboip.txt.gz", "new_abcoij.txt.gz", "new_atsfiv.txt.gz")  # the last one is empty


@pytest.fixture(scope="module")
def settings(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp_path = tmp_path_factory.mktemp("batch")
    data = data_subset(real_data, tmp_path, CABS)
    return Settings(
        home=tmp_path / "var",
        data_dir=data,
        ingest=IngestSettings(workers=1),
        roads=RoadsSettings(meili_workers=1),
        # Road-level backtests are covered elsewhere; here they would only cost time.
        forecast=ForecastSettings(demo_units=("h3",), demo_test_days=2),
    )


@pytest.fixture(scope="module")
def first_run(settings: Settings) -> str:
    return _run(settings)


def _run(settings: Settings) -> str:
    out = io.StringIO()
    run_batch(settings, Console(file=out, width=160), DagsterOrchestrator.for_settings(settings))
    return out.getvalue()


def _checksums(settings: Settings) -> dict[str, tuple[int, str]]:
    con = connect(settings.warehouse_path)
    sums = {t: table_checksum(con, t) for t in TABLES if t != "step_runs"}
    con.close()
    return sums


def test_batch_job_fills_every_table_and_reruns_as_a_no_op(
    settings: Settings, first_run: str
) -> None:
    first = first_run
    report = (settings.reports_dir / "ingest.md").read_text()
    assert "## Vacant spells map-matched (Meili)" in report
    sums = _checksums(settings)
    for table in (
        "telemetry",
        "trips",
        "vacant_spells",
        "road_segments",
        "trip_end_matches",
        "spell_paths",
        "spell_match_status",
    ):
        assert sums[table][0] > 0, f"{table} is empty"
    assert "reused" not in first

    second = _run(settings)
    assert second.count("unchanged since last run, reused") == 7  # 5 data steps, h3, sim
    assert (settings.reports_dir / "forecast" / "backtest_h3.json").is_file()
    assert _checksums(settings) == sums


def test_matched_spell_paths_only_make_legal_moves_within_a_piece(
    settings: Settings, first_run: str
) -> None:
    con = connect(settings.warehouse_path)
    illegal = con.execute("""
        WITH p AS (
            SELECT spell_id, piece, segment_id,
                   lead(segment_id) OVER (PARTITION BY spell_id ORDER BY seq) AS nxt,
                   lead(piece) OVER (PARTITION BY spell_id ORDER BY seq) AS nxt_piece
            FROM spell_paths)
        SELECT count(*) FROM p
        WHERE nxt IS NOT NULL AND nxt_piece = piece AND NOT EXISTS (
            SELECT 1 FROM road_successors s
            WHERE s.segment_id = p.segment_id AND s.next_segment_id = p.nxt)""").fetchall()
    moves = con.execute("SELECT count(*) FROM spell_paths").fetchall()[0][0]
    con.close()
    assert moves > 100
    assert illegal == [(0,)]


def test_road_inputs_count_matched_pickups_and_link_neighbouring_segments(
    settings: Settings, first_run: str
) -> None:
    from taxinav.features import road_inputs
    from taxinav.roads import read_graph

    con = connect(settings.warehouse_path)
    inputs = road_inputs(con, settings.tz)
    graph = read_graph(con)
    matched = con.execute(
        "SELECT count(*) FROM trip_end_matches WHERE end_kind = 'pickup' AND status = 'matched'"
    ).fetchall()[0][0]
    con.close()
    assert inputs.units.num_rows == graph.n_segments
    assert sum(inputs.counts["n"].to_pylist()) == matched
    ring1 = {
        (u, v)
        for u, v, r in zip(
            *(inputs.neighbors[c].to_pylist() for c in ("unit_id", "nbr_id", "ring")), strict=True
        )
        if r == 1
    }
    s = 0
    for t in graph.successors(s):
        assert (str(s), str(int(t))) in ring1 and (str(int(t)), str(s)) in ring1


def test_simulating_a_real_day_replays_its_matched_pickups(
    settings: Settings, first_run: str
) -> None:
    from datetime import date

    from taxinav.guidance.experiment import simulate

    con = connect(settings.warehouse_path)
    out = simulate(
        con, settings, date(2008, 5, 20), 1, "historical", share=0.5, other="random", seeds=2
    )
    matched = con.execute(
        "SELECT count(*) FROM trip_end_matches WHERE end_kind = 'pickup' AND status = "
        "'matched' AND ts >= '2008-05-20 07:00:00+00' AND ts < '2008-05-21 07:00:00+00'"
    ).fetchall()[0][0]
    con.close()
    assert [r.kpis["requests"] for r in out.runs] == [matched, matched]
    assert out.policies == ("historical", "random")
    assert out.to_json()["runs"][0]["group_policy"] == {0: "historical", 1: "random"}
    assert set(out.summary.groups) <= {"historical", "random"}
    assert set(out.summary.real) == {"vacant_median_min", "vacant_mean_min", "occupancy"}
    for run in out.runs:
        assert run.kpis["served"] + run.kpis["lost"] <= run.kpis["requests"]
    assert (settings.reports_dir / "sim" / "sim_historical.json").is_file()
    assert 0.0 <= out.estimated_unserved_share < 1.0


def test_recommended_routes_are_legal_and_last_the_horizon(
    settings: Settings, first_run: str
) -> None:
    from taxinav.guidance.recommend import geojson, recommend_at, route_map
    from taxinav.roads import read_graph

    con = connect(settings.warehouse_path)
    graph = read_graph(con)
    moments = [r[0] for r in con.execute(
        "SELECT ts FROM telemetry WHERE NOT occupied AND ts >= '2008-05-20 07:00:00+00' "
        "ORDER BY ts LIMIT 400"
    ).fetchall()[::40]]  # fmt: skip
    recs = []
    for m in moments:
        try:
            recs.append(recommend_at(con, settings, m))
        except LookupError as exc:  # the cabs were vacant off the mapped network then
            assert "no vacant vehicle on the road network" in str(exc)
    con.close()
    routes = [r for rec in recs for r in rec.routes.values()]
    assert routes, "no vacant cab on the network at any of the moments"
    for r in routes:
        prev = r.start_segment
        for s in r.segments.tolist():
            assert s in graph.successors(prev).tolist()  # legal, connected, no waiting
            prev = s
        assert (np.diff(r.eta_s) > 0).all()
        p = r.p_cumulative
        assert (np.diff(p) >= 0).all() and 0 <= p[0] and p[-1] <= 1
        # Steps run until 15 minutes of driving.
        assert 15 * 60 <= r.duration_s <= 15 * 60 + r.eta_s[0] + graph.travel_time_s.max()
    feature = geojson(recs[0], graph)["features"]
    assert all(len(f["geometry"]["coordinates"]) >= 2 for f in feature)
    # The map draws the routes over the demand the plan saw.
    with_routes = next(rec for rec in recs if rec.routes)
    assert with_routes.rate is not None and with_routes.rate.shape == (graph.n_segments,)
    png = route_map(with_routes, graph, settings.home / "reports" / "route_test.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_training_ran_as_its_own_job_with_its_peak_recorded(
    settings: Settings, first_run: str
) -> None:
    import json
    import os

    from mlflow import MlflowClient

    from taxinav.mlops.registry import tracking_uri

    con = connect(settings.warehouse_path)
    row = con.execute("SELECT summary FROM step_runs WHERE step = 'forecast_h3'").fetchone()
    con.close()
    assert row is not None
    job = json.loads(row[0])["job"]
    assert job["pid"] != os.getpid()
    # A process that imported the stack and trained holds well over 100 MiB, under the bound.
    assert 0.1 < job["peak_rss_gib"] < settings.mlops.job_memory_gib
    client = MlflowClient(tracking_uri(settings.home, settings.mlops.tracking_uri))
    run = client.get_run(json.loads(row[0])["mlflow"]["run_id"])
    assert run.data.metrics["job.peak_rss_gib"] == pytest.approx(job["peak_rss_gib"], abs=1e-3)
