"""Online = offline: a day replayed through the API gives the pipeline's demand counts and
the pipeline's features for that day."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from taxinav.calendar import Day
from taxinav.features import FEATURES
from taxinav.serve.replay import batches, day_fixes
from tests.serve.conftest import DAYS, auth

pytestmark = [pytest.mark.data, pytest.mark.slow]


def replay_through(client: Any, hours: tuple[int, int] | None = None) -> int:
    """Post the fixture's days (or the middle day's local ``hours``) through the API."""
    s = client.service.settings
    sent = 0
    for day in DAYS:
        fixes = day_fixes(s, day)
        for t0, batch in batches(fixes, 1800):
            local = t0.astimezone(s.tz)
            if hours and (day != DAYS[1] or not hours[0] <= local.hour < hours[1]):
                continue
            for k in range(0, len(batch), 2000):
                r = client.post(
                    "/v1/telemetry", json={"fixes": batch[k : k + 2000]}, headers=auth("ingest")
                )
                assert r.status_code == 200, r.text
                sent += r.json()["accepted"]
    return sent


def _offline(client: Any, unit: str, d: Day) -> dict[tuple[str, datetime], tuple[int, int]]:
    from taxinav.warehouse import connect

    con = connect(client.service.settings.warehouse_path)
    rows = con.execute(
        """SELECT unit_id, slot_start, pickups, vacant FROM demand_counts
           WHERE unit_type = ? AND slot_start >= ? AND slot_start < ?""",
        [unit, d.start, d.end],
    ).fetchall()
    con.close()
    return {(u, s): (int(p), int(v)) for u, s, p, v in rows if p or v}


def _online(client: Any, unit: str, d: Day) -> dict[tuple[str, datetime], tuple[int, int]]:
    t = client.service.live.counts(unit).to_pylist()
    return {
        (r["unit_id"], r["slot_start"]): (r["pickups"], r["vacant"])
        for r in t
        if d.start <= r["slot_start"] < d.end and (r["pickups"] or r["vacant"])
    }


def test_a_replayed_day_gives_the_pipelines_counts_and_features(client: Any) -> None:
    assert replay_through(client) > 10_000
    service = client.service
    d = Day.of(DAYS[1], service.settings.tz)
    for unit in ("h3", "road"):
        offline, online = _offline(client, unit, d), _online(client, unit, d)
        assert sum(p for p, _ in offline.values()) > 50
        if unit == "road":  # vacant supply on roads comes from map-matched spells, not here
            offline = {k: (p, 0) for k, (p, _) in offline.items() if p}
            online = {k: (p, 0) for k, (p, _) in online.items() if p}
        assert online == offline, unit

    from taxinav.forecast.daily import feature_frame
    from taxinav.serve.online import merge_counts, online_features
    from taxinav.warehouse import connect

    counts = merge_counts(service.ctx.history, service.live.counts("h3"), service.ctx.origin)
    live = online_features(service.settings, service.ctx.graph, "h3", counts, d.start, d.end)
    con = connect(service.settings.warehouse_path)
    batch = feature_frame(con, "h3", d.start, d.end)
    con.close()
    assert len(live) == len(batch) == 42 * 144
    live = live.sort_values(["slot_start", "unit_id"]).reset_index(drop=True)
    assert live["unit_id"].tolist() == batch["unit_id"].astype(str).tolist()
    np.testing.assert_allclose(
        live[list(FEATURES)].to_numpy(dtype=float),
        batch[list(FEATURES)].to_numpy(dtype=float),
        equal_nan=True,
    )
    assert np.array_equal(live["y"].to_numpy(dtype=float), batch["y"].to_numpy(dtype=float))

    # The per-slot path the service uses: every slot of the day, feature by feature.
    from taxinav.features.counts import CountSpec, inputs_from_counts
    from taxinav.features.online import SlotFeatures

    spec = CountSpec.of(service.settings)
    state = SlotFeatures(inputs_from_counts(spec, service.ctx.graph, "h3", counts, d.end))
    first = state.n_slots - 144
    rows = np.vstack([state.row(first + k) for k in range(144)])
    order = np.argsort(np.array(state.units * 144, dtype=object).reshape(144, -1), axis=1)
    units = np.array(state.units)
    by_slot = [units[order[k]].tolist() for k in range(144)]
    assert [u for us in by_slot for u in us] == live["unit_id"].tolist()
    ordered = np.vstack([rows[k * len(units) : (k + 1) * len(units)][order[k]] for k in range(144)])
    np.testing.assert_allclose(ordered, batch[list(FEATURES)].to_numpy(dtype=float),
                               rtol=1e-9, equal_nan=True)  # fmt: skip
    assert timedelta(0) < d.end - d.start


SUPPLY_FEATURES = ("sup10", "nb1_sup10", "ratio")


def test_live_road_features_equal_the_pipelines_and_the_champion_scores_them(
    client: Any,
) -> None:
    """Road segments: every pickup-based feature of the replayed day equals the batch one
    computed from the pipeline's road counts; live supply (vacant fixes snapped to the road)
    is at most the batch supply on map-matched paths, so it is only checked to be there."""
    from taxinav.features.counts import CountSpec, stored_inputs
    from taxinav.features.online import SlotFeatures
    from taxinav.serve.online import forecast_now, merge_counts
    from taxinav.warehouse import connect

    service = client.service
    if service.live.clock is None:
        replay_through(client)
    s, graph = service.settings, service.ctx.graph
    d = Day.of(DAYS[1], s.tz)
    con = connect(s.warehouse_path)
    batch = SlotFeatures(stored_inputs(con, CountSpec.of(s), graph, "road", d))
    con.close()
    counts = merge_counts(service.ctx.road_history, service.live.counts("road"),
                          service.ctx.origin)  # fmt: skip
    from taxinav.features.counts import CountSpec, inputs_from_counts

    live = SlotFeatures(inputs_from_counts(CountSpec.of(s), graph, "road", counts, d.end))
    assert live.units == batch.units and len(live.units) == graph.n_segments
    keep = [i for i, f in enumerate(FEATURES) if f not in SUPPLY_FEATURES]
    sup = FEATURES.index("sup10")
    live_supply = 0.0
    for k in range(batch.n_slots - 144, batch.n_slots, 7):
        a, b = live.row(k), batch.row(k)
        np.testing.assert_allclose(a[:, keep], b[:, keep], rtol=1e-9, equal_nan=True)
        live_supply += float(np.nansum(a[:, sup]))
    assert live_supply > 0  # vacant taxis were seen on the road

    predict = lambda x: x["r30"].to_numpy() + 0.5  # noqa: E731 - a champion stand-in
    out = forecast_now(s, graph, "road", counts, d.start + timedelta(hours=12), predict)
    assert len(out.yhat) == graph.n_segments
    row = live.row(batch.n_slots - 144 + 72)  # 12:00 is slot 72 of the day
    np.testing.assert_allclose(out.yhat, np.nan_to_num(row[:, FEATURES.index("r30")]) + 0.5)

    # In the service, the champion's live road forecast becomes the plan's demand now.
    service.refresh(force=True)  # moves to the clock's day first
    service.ctx.road_champion = ("7", predict)
    assert service.refresh(force=True)
    clock = service.live.clock
    now = forecast_now(
        s,
        graph,
        "road",
        merge_counts(service.ctx.road_history, service.live.counts("road"), service.ctx.origin),
        clock,
        predict,
    )
    rate = service.ctx.road_demand.at((clock - service.ctx.origin).total_seconds())
    np.testing.assert_allclose(rate * 1800.0, now.yhat)
    road = client.get("/v1/demand?unit=road", headers=auth("operator")).json()
    assert road["properties"]["source"] == "live champion v7"
