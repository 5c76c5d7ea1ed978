"""Forecasting features, each defined once as an Ibis expression (DuckDB, Spark, ...).

Inputs (any Ibis backend):
    units(unit_id)                          every spatial unit
    slots(slot, hour, weekday, slot_of_day, holiday, day_off, ...)   consecutive time slots
    counts(unit_id, slot, n)                pickups starting in the unit during the slot
    supply(unit_id, slot, vehicles)         distinct vacant vehicles seen in the unit
    neighbors(unit_id, nbr_id, ring)        ring 1 and ring 2 neighbours

Row (unit, slot s) describes the moment t = start of slot s. Its target ``y`` counts pickups
in [t, t + horizon) — the :class:`Slotting`'s horizon slots. Windows named in minutes
(``r30``: the last 30 minutes) span that many minutes in whole slots (at least one). Every
feature uses only slots before s; statistics of earlier days use ``y`` of slot s - k·(slots
per day), which ends before t. The grid is dense (every unit × every slot), so row frames
are time frames. No feature looks back more than ``HISTORY_DAYS`` days: the means over
"all" earlier days and the unit's rate span the last ``HISTORY_DAYS`` days (windows over slot
numbers, the same on every engine), so a day's features need only that much history and a
backfill grows linearly with its days.
"""

from __future__ import annotations

import ibis
from ibis import _
from ibis.expr.types import Table

from taxinav.features.slots import DEFAULT_SLOTTING, HISTORY_DAYS, Slotting

FEATURES = (
    "r10", "r30", "r60", "r120",
    "nb1_r30", "nb1_r60", "nb2_r30", "nb2_r60",
    "sup10", "nb1_sup10", "ratio", "unit_rate",
    "yday", "week", "ha_all", "ha_all_7", "ha_dayoff", "ha_dayoff_4", "ha_weekday",
    "hour", "weekday", "slot_of_day", "holiday", "day_off",
)  # fmt: skip


def _rows(group: list[str], lo: int | None, hi: int) -> ibis.expr.builders.LegacyWindowBuilder:
    return ibis.window(group_by=group, order_by="slot", rows=(lo, hi))


def _slots(group: list[str], lo: int, hi: int) -> ibis.expr.builders.LegacyWindowBuilder:
    """Rows whose slot number is in [s + lo, s + hi] (a frame in time, whatever the rows)."""
    return ibis.window(group_by=group, order_by="slot", range=(lo, hi))


def _neighbour_sums(counts: Table, supply: Table, neighbors: Table) -> tuple[Table, Table]:
    """Per (unit, slot): pickups in ring 1 / ring 2 and vacant vehicles in ring 1."""
    nc = neighbors.join(counts, neighbors.nbr_id == counts.unit_id).select(
        unit_id=neighbors.unit_id, slot=counts.slot, ring=neighbors.ring, n=counts.n
    )
    demand = nc.group_by(["unit_id", "slot"]).aggregate(
        nb1_n=(_.ring == 1).ifelse(_.n, 0).sum(),
        nb2_n=(_.ring == 2).ifelse(_.n, 0).sum(),
    )
    ns = neighbors.filter(neighbors.ring == 1).join(supply, neighbors.nbr_id == supply.unit_id)
    vacant = ns.group_by([neighbors.unit_id, supply.slot]).aggregate(nb1_sup=supply.vehicles.sum())
    return demand, vacant


def _grid(units: Table, slots: Table, counts: Table, supply: Table, neighbors: Table) -> Table:
    demand, vacant = _neighbour_sums(counts, supply, neighbors)
    grid = units.select("unit_id").cross_join(slots)
    for table in (counts, supply, demand, vacant):
        grid = grid.left_join(table, ["unit_id", "slot"]).drop("unit_id_right", "slot_right")
    return grid.mutate(
        n=_.n.fill_null(0),
        sup=_.vehicles.fill_null(0),
        nb1_n=_.nb1_n.fill_null(0),
        nb2_n=_.nb2_n.fill_null(0),
        nb1_sup=_.nb1_sup.fill_null(0),
    ).drop("vehicles")


def build_features(
    units: Table, slots: Table, counts: Table, supply: Table, neighbors: Table,
    slotting: Slotting = DEFAULT_SLOTTING,
) -> Table:  # fmt: skip
    """The feature table: one row per (unit, slot) with ``y``, ``y_complete`` and FEATURES."""
    g = _grid(units, slots, counts, supply, neighbors)
    u = ["unit_id"]
    m10, m30, m60, m120 = (slotting.slots(m) for m in (10, 30, 60, 120))
    h = slotting.horizon_slots
    back = HISTORY_DAYS * slotting.per_day  # slots
    recent = g.mutate(
        r10=_.n.sum().over(_rows(u, -m10, -1)),
        r30=_.n.sum().over(_rows(u, -m30, -1)),
        r60=_.n.sum().over(_rows(u, -m60, -1)),
        r120=_.n.sum().over(_rows(u, -m120, -1)),
        nb1_r30=_.nb1_n.sum().over(_rows(u, -m30, -1)),
        nb1_r60=_.nb1_n.sum().over(_rows(u, -m60, -1)),
        nb2_r30=_.nb2_n.sum().over(_rows(u, -m30, -1)),
        nb2_r60=_.nb2_n.sum().over(_rows(u, -m60, -1)),
        sup10=_.sup.sum().over(_rows(u, -m10, -1)),
        nb1_sup10=_.nb1_sup.sum().over(_rows(u, -m10, -1)),
        unit_rate=_.n.mean().over(_slots(u, -back, -1)) * h,
        y=_.n.sum().over(_rows(u, 0, h - 1)),
        y_complete=_.n.count().over(_rows(u, 0, h - 1)) == h,
    )
    tod = ["unit_id", "slot_of_day"]
    daily = recent.mutate(
        yday=_.y.lag(1).over(_rows(tod, None, 0)),
        week=_.y.lag(7).over(_rows(tod, None, 0)),
        ha_all=_.y.mean().over(_slots(tod, -back, -1)),
        ha_all_7=_.y.mean().over(_rows(tod, -7, -1)),
        ha_dayoff=_.y.mean().over(_slots([*tod, "day_off"], -back, -1)),
        ha_dayoff_4=_.y.mean().over(_rows([*tod, "day_off"], -4, -1)),
        ha_weekday=_.y.mean().over(_slots([*tod, "weekday"], -back, -1)),
    )
    out = daily.mutate(
        ratio=(_.r30 + _.nb1_r30) / (_.sup10 + _.nb1_sup10 + 1),
        holiday=_.holiday.cast("int64"),
        day_off=_.day_off.cast("int64"),
        y_complete=_.y_complete.cast("int64"),
    )
    return out.select("unit_id", "slot", "y", "y_complete", *FEATURES)


def count_demand(events: Table, slot_s: int) -> Table:
    """Demand counts from unit events (unit_type, unit_id, kind, key, ts): per unit and slot
    (``slot_start``, UTC, slots of ``slot_s`` seconds from the Unix epoch) the distinct keys of
    ``pickup`` events (trips) and of ``vacant`` events (vehicles seen vacant)."""
    start = ((events.ts.epoch_seconds() // slot_s) * slot_s).cast("int64").as_timestamp("s")
    e = events.mutate(slot_start=start)
    return e.group_by(["unit_type", "unit_id", "slot_start"]).aggregate(
        pickups=e.key.nunique(where=e.kind == "pickup").cast("int64"),
        vacant=e.key.nunique(where=e.kind == "vacant").cast("int64"),
    )
