"""The ingest report: what was loaded, rejected, derived and matched (Markdown)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb


@dataclass
class Section:
    title: str
    header: tuple[str, ...]
    rows: list[tuple[object, ...]] = field(default_factory=list)
    note: str = ""


def _fmt(v: object) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) >= 100:
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 100 else f"{v:,.3g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _q(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in con.execute(sql).fetchall()]


def collect(con: duckdb.DuckDBPyConnection, tz: ZoneInfo) -> list[Section]:
    """Every figure of the report, straight from the warehouse tables."""
    con.execute(f"SET TimeZone = '{tz.key}'")
    try:
        period = _q(
            con,
            "SELECT min(ts)::VARCHAR, max(ts)::VARCHAR, count(*), "
            "count(DISTINCT vehicle_id) FROM telemetry",
        )[0]
    finally:
        con.execute("SET TimeZone = 'UTC'")
    total_q = _q(con, "SELECT count(*) FROM quarantine")[0][0]
    sections = [
        Section(
            "Telemetry",
            ("measure", "value"),
            [
                ("fixes loaded", period[2]),
                ("vehicles", period[3]),
                (f"first fix ({tz.key})", period[0]),
                (f"last fix ({tz.key})", period[1]),
                ("rows quarantined", total_q),
            ],
        ),
        Section(
            "Quarantine by reason",
            ("reason", "field", "rows"),
            _q(
                con,
                """
            SELECT reason, coalesce(field, ''), count(*) FROM quarantine
            GROUP BY ALL ORDER BY 3 DESC""",
            ),
        ),
        Section(
            "Trips and vacant spells",
            ("table", "rows", "median min", "mean min", "median km"),
            _q(
                con,
                """
            SELECT 'trips', count(*), median(duration_s) / 60, avg(duration_s) / 60,
                   median(distance_m) / 1000 FROM trips
            UNION ALL
            SELECT 'vacant spells ending in a pickup', count(*), median(duration_s) / 60,
                   avg(duration_s) / 60, median(distance_m) / 1000
            FROM vacant_spells WHERE end_reason = 'pickup'""",
            ),
        ),
        Section(
            "Cuts and incomplete trips/spells",
            ("kind", "reason", "count"),
            _q(
                con,
                """
            SELECT kind, reason, n FROM derivation_counts ORDER BY kind, n DESC""",
            ),
        ),
        Section(
            "Occupancy",
            ("measure", "value"),
            _q(
                con,
                """
            WITH s AS (SELECT sum(duration_s) AS occ FROM trips),
                 v AS (SELECT sum(duration_s) AS vac FROM vacant_spells)
            SELECT 'time-weighted occupancy (trips / (trips + spells))', occ / (occ + vac)
            FROM s, v""",
            ),
        ),
        Section(
            "Road network",
            ("measure", "value"),
            _q(
                con,
                """
            SELECT 'directed segments', count(*) FROM road_segments
            UNION ALL SELECT 'nodes (intersections, ends)', count(*) FROM road_nodes
            UNION ALL SELECT 'one-way segments', count(*) FILTER (WHERE oneway) FROM road_segments
            UNION ALL SELECT 'legal moves', count(*) FROM road_successors
            UNION ALL SELECT 'km of directed road', round(sum(length_m) / 1000, 1)
                      FROM road_segments""",
            ),
        ),
        Section(
            "Pickups and drop-offs snapped to segments",
            ("end", "matched", "all", "share"),
            _q(
                con,
                """
            SELECT end_kind, count(*) FILTER (WHERE status = 'matched'), count(*),
                   count(*) FILTER (WHERE status = 'matched') / count(*)
            FROM trip_end_matches GROUP BY ALL ORDER BY 1 DESC""",
            ),
        ),
        Section(
            "Vacant spells map-matched (Meili)",
            ("status", "spells", "GPS points", "segments"),
            _q(
                con,
                """
            SELECT status, count(*), sum(n_points), sum(n_segments)
            FROM spell_match_status GROUP BY ALL ORDER BY 2 DESC""",
            ),
        ),
    ]
    return sections


def blocked_days(backfill: dict[str, Any], reforecast: dict[str, Any]) -> Section:
    """Days a quality check blocked in the daily pipeline, and what skipped them."""
    checks: dict[str, list[str]] = backfill.get("blocked_checks") or {
        d: [] for d in backfill.get("blocked_days", [])
    }
    skipped = set(reforecast.get("skipped_days", []))
    rows: list[tuple[object, ...]] = [
        (d, ", ".join(c) or "a failed check",
         "every asset after the check" + (" and the re-forecast" if d in skipped else ""))
        for d, c in sorted(checks.items())
    ]  # fmt: skip
    note = "" if rows else "No day was blocked."
    return Section("Days blocked by quality checks", ("day", "failed checks", "skipped"), rows,
                   note)  # fmt: skip


def render_markdown(sections: list[Section], title: str = "taxinav ingest report") -> str:
    out = [f"# {title}", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        if s.note:
            out += [s.note, ""]
        out.append("| " + " | ".join(s.header) + " |")
        out.append("|" + "---|" * len(s.header))
        out += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in s.rows]
        out.append("")
    return "\n".join(out)


def write_report(sections: list[Section], path: Path, figures: Sequence[Path] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render_markdown(sections)
    text += "".join(f"\n![{f.stem}]({f.name})\n" for f in figures)
    path.write_text(text)
    return path
