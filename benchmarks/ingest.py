"""Ingest benchmark: all shared cabspotting files into a fresh warehouse, then trips/spells,
snapping and (a sample of) Meili map matching. Prints a table.

    python benchmarks/ingest.py [--meili-traces N]

Targets (issue 2): ingest + derive of the 7.56 M fixes in at most 90 s, peak memory < 4 GiB.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from taxinav import ingest, roads
from taxinav.roads import matching
from taxinav.settings import get_settings
from taxinav.warehouse import connect


def _peak_mib() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, kids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meili-traces", type=int, default=20_000)
    args = parser.parse_args()
    settings = get_settings()
    console = Console()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        con = connect(
            Path(tmp) / "bench.duckdb",
            memory_limit=settings.duckdb_memory_limit,
            threads=settings.duckdb_threads,
        )
        files = ingest.list_cabspotting_files(settings.cabspotting_dir)
        t0 = time.perf_counter()
        rep = ingest.ingest_files(
            con, files, "cabspotting", ingest.Rules.default(), workers=settings.ingest.workers
        )
        t1 = time.perf_counter()
        derived = ingest.derive_trips_and_spells(con, settings.ingest.gap_limit_min)
        t2 = time.perf_counter()
        fixes = rep.counts.rows_read
        rows += [
            ("files", f"{len(files)}", ""),
            ("input rows", f"{fixes:,}", ""),
            (
                "ingest (parse, validate, load, jump check)",
                f"{t1 - t0:.1f} s",
                f"{fixes / (t1 - t0):,.0f} fixes/s",
            ),
            (
                "derive trips + spells",
                f"{t2 - t1:.1f} s",
                f"{derived['trips']:,} trips, {derived['vacant_spells']:,} spells",
            ),
            ("ingest + derive", f"{t2 - t0:.1f} s", "target ≤ 90 s"),
        ]
        own, kids = _peak_mib()
        rows.append(("peak RSS main / worker", f"{own:,.0f} / {kids:,.0f} MiB", "target < 4096"))

        extract = roads.read_osm(settings.osm_path)
        graph = roads.build_graph(extract, settings.roads.h3_resolution)
        roads.write_graph(con, graph, extract)
        t3 = time.perf_counter()
        snapped = matching.snap_trip_ends(
            con,
            graph,
            radius_m=settings.roads.match_radius_m,
            heading_weight_m=settings.roads.heading_weight_m,
        )
        t4 = time.perf_counter()
        n_ends = sum(snapped.values())
        matched_pickups = snapped.get("pickup:matched", 0)
        rows.append(
            (
                "snap pickups + drop-offs",
                f"{t4 - t3:.1f} s",
                f"{n_ends / (t4 - t3):,.0f} points/s; "
                f"{matched_pickups / derived['trips']:.1%} of pickups matched",
            )
        )

        prepared = matching.spell_traces(
            con, graph, max_points=500, road_radius_m=settings.roads.meili_search_radius_m
        )
        sample = [t for t in prepared.traces if len(t.lat) >= 2][: args.meili_traces]
        config = roads.build_tiles(settings.osm_path, Path(tmp) / "valhalla")
        t5 = time.perf_counter()
        results = list(roads.match_traces(config, sample, workers=settings.roads.meili_workers))
        t6 = time.perf_counter()
        points = sum(len(t.lat) for t in sample)
        ok = sum(r.status == "matched" for r in results)
        rows.append(
            (
                f"Meili, first {len(sample):,} spell traces",
                f"{t6 - t5:.1f} s",
                f"{points / (t6 - t5):,.0f} points/s with {settings.roads.meili_workers} "
                f"workers; {ok / len(sample):.1%} traces matched",
            )
        )
        con.close()

    table = Table(title="taxinav ingest benchmark")
    for h in ("step", "time / value", "rate / note"):
        table.add_column(h)
    for r in rows:
        table.add_row(*r)
    console.print(table)


if __name__ == "__main__":
    main()
