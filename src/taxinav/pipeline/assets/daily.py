"""Daily-partitioned assets of the fleet's local days: telemetry, trips, matched pickups and
demand counts, with their blocking quality checks."""

import dagster as dg

from taxinav import ingest, roads
from taxinav.features.counts import CountSpec, demand_day
from taxinav.pipeline import checks as quality
from taxinav.pipeline.assets.sources import GROUP
from taxinav.pipeline.assets.spark import lake_demand_day
from taxinav.pipeline.resources import (
    SHARED_STORE_RETRY,
    Materialized,
    TaxinavResource,
    check_spec,
    checked,
    meta,
    warehouse,
)


def daily_assets(
    code_versions: dict[str, str],
    part: dg.DailyPartitionsDefinition,
    landing: dg.AssetsDefinition,
    road_network: dg.AssetsDefinition,
) -> list[dg.AssetsDefinition]:
    around = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=1)

    @dg.asset(
        retry_policy=SHARED_STORE_RETRY,
        group_name=GROUP,
        partitions_def=part,
        deps=[landing],
        code_version=code_versions["telemetry"],
        check_specs=[
            check_spec("telemetry_row_count", "telemetry", "fixes vs the median of recent days"),
            check_spec("telemetry_null_rate", "telemetry", "no fix without position/occupancy"),
            check_spec("telemetry_coordinate_range", "telemetry", "fixes near the road network"),
        ],
    )
    def telemetry(context: dg.AssetExecutionContext, taxinav: TaxinavResource) -> Materialized:
        """The day's fixes (local day of the fleet's city) and quarantined rows."""
        s = taxinav.settings()
        d = taxinav.day(context)
        with warehouse(s, "telemetry") as con:
            out = ingest.telemetry_day(con, s.landing_path, d, s.pipeline_api_landing)
            g = roads.read_graph(con)
            bbox = (
                float(g.shape_lat.min()),
                float(g.shape_lat.max()),
                float(g.shape_lon.min()),
                float(g.shape_lon.max()),
            )
            checks = [
                quality.row_count(con, "telemetry", "ts", d, s.pipeline.min_rows_ratio),
                quality.null_rate(con, d),
                quality.coordinate_range(con, d, bbox),
            ]
        return checked(out, checks, taxinav, d)

    @dg.asset(
        retry_policy=SHARED_STORE_RETRY,
        group_name=GROUP,
        partitions_def=part,
        code_version=code_versions["trips"],
        deps=[dg.AssetDep(telemetry, partition_mapping=around)],
        check_specs=[check_spec("trips_row_count", "trips", "trips vs the median of recent days")],
    )
    def trips(context: dg.AssetExecutionContext, taxinav: TaxinavResource) -> Materialized:
        """Passenger trips and vacant spells starting that day (a day either side is read)."""
        s = taxinav.settings()
        d = taxinav.day(context)
        with warehouse(s, "trips") as con:
            out = ingest.derive_day(con, d.day, d.start, d.end, s.ingest.gap_limit_min,
                                    s.pipeline.context_hours)  # fmt: skip
            checks = [quality.row_count(con, "trips", "pickup_ts", d, s.pipeline.min_rows_ratio)]
        return checked(out, checks, taxinav, d)

    @dg.asset(
        retry_policy=SHARED_STORE_RETRY,
        group_name=GROUP,
        partitions_def=part,
        code_version=code_versions["pickups"],
        deps=[trips, road_network],
        check_specs=[check_spec("pickups_matched_share", "pickups", "pickups snapped to a road")],
    )
    def pickups(context: dg.AssetExecutionContext, taxinav: TaxinavResource) -> Materialized:
        """The day's pickups and drop-offs map-matched to directed road segments."""
        s = taxinav.settings()
        d = taxinav.day(context)
        with warehouse(s, "pickups") as con:
            out = roads.snap_trip_ends(
                con, roads.read_graph(con), radius_m=s.roads.match_radius_m,
                heading_weight_m=s.roads.heading_weight_m, between=(d.start, d.end),
            )  # fmt: skip
            checks = [quality.matched_share(con, d, s.pipeline.min_matched_share)]
        return checked(out, checks, taxinav, d)

    @dg.asset(
        retry_policy=SHARED_STORE_RETRY,
        group_name=GROUP,
        partitions_def=part,
        code_version=code_versions["demand"],
        deps=[pickups, telemetry],
    )
    def demand(context: dg.AssetExecutionContext, taxinav: TaxinavResource) -> Materialized:
        """Pickups and vacant vehicles per unit (H3 cell, road segment) and slot."""
        s = taxinav.settings()
        spec, d = CountSpec.of(s), taxinav.day(context)
        if s.engine == "spark":
            out = lake_demand_day(s, spec, d)
        else:
            with warehouse(s, "demand") as con:
                out = demand_day(con, spec, roads.read_graph(con), d)
        return dg.MaterializeResult(metadata=meta(out))

    return [telemetry, trips, pickups, demand]
