"""Source assets: telemetry files into the landing store, and the road network."""

import time

import dagster as dg

from taxinav import ingest, roads
from taxinav.mlops.metrics import record_duration
from taxinav.pipeline.resources import SHARED_STORE_RETRY, Materialized, TaxinavResource, warehouse
from taxinav.warehouse import open_landing

GROUP = "taxinav"


def source_assets(code_versions: dict[str, str]) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition]:
    @dg.asset(
        retry_policy=SHARED_STORE_RETRY, group_name=GROUP, code_version=code_versions["landing"]
    )
    def landing(taxinav: TaxinavResource) -> Materialized:
        """Validated, de-duplicated telemetry from the source files (the API lands apart)."""
        s = taxinav.settings()
        started = time.perf_counter()
        con = open_landing(s)
        try:
            r = ingest.ingest_directory(
                con, s.ingest.source, s.telemetry_dir,
                ingest.Rules.default(s.ingest.min_valid_year, s.ingest.max_future_days),
                workers=s.ingest.workers, max_speed_kmh=s.ingest.max_speed_kmh,
                jump_rounds=s.ingest.jump_check_rounds,
            )  # fmt: skip
        finally:
            con.close()
        record_duration(s.home, "landing", time.perf_counter() - started)
        return dg.MaterializeResult(
            metadata={
                "files": r.files,
                "file_errors": len(r.errors),
                "loaded": r.counts.loaded,
                "quarantined": str(r.quarantined),
            }
        )

    @dg.asset(
        retry_policy=SHARED_STORE_RETRY,
        group_name=GROUP,
        code_version=code_versions["road_network"],
    )
    def road_network(taxinav: TaxinavResource) -> Materialized:
        """Directed road segments of the OpenStreetMap extract."""
        s = taxinav.settings()
        with warehouse(s, "road_network") as con:
            g = roads.load_roads(con, s.osm_path, s.roads.h3_resolution)
        return dg.MaterializeResult(metadata={"segments": g.n_segments, "nodes": g.n_nodes})

    return landing, road_network
