"""A day loaded in a child process is the day loaded here."""

from __future__ import annotations

import numpy as np

from taxinav.serve import planner
from taxinav.settings import Settings
from tests.serve.conftest import DAYS


def test_a_day_read_apart_is_the_same_day_and_its_demand_is_still_shared(
    service_settings: Settings,
) -> None:
    here = planner.load_day(service_settings, DAYS[1])
    apart = planner.load_day(service_settings, DAYS[1], apart=True)
    assert apart.graph.n_segments == here.graph.n_segments and apart.cells == here.cells
    assert apart.history.equals(here.history) and apart.road_history.equals(here.road_history)
    assert apart.demand_source == here.demand_source
    for t in (0.0, 9.5 * 3600, 18 * 3600):
        assert np.array_equal(np.asarray(apart.demand_at(t).rate),
                              np.asarray(here.demand_at(t).rate))  # fmt: skip
    # The live road forecast is spliced into ``road_demand``; the plan must see it.
    assert apart.demand_at.source is apart.road_demand  # type: ignore[attr-defined]
    slot = apart.road_demand.slot_of(apart.origin)
    units = np.arange(apart.graph.n_segments, dtype=np.int64)
    assert apart.road_demand.set_slot(slot, units, np.full(units.size, 0.5))
    assert np.allclose(np.asarray(apart.road_demand.at(0.0)), 0.5)
    assert (apart.champion is None) == (here.champion is None)
