"""Replay mode: a day's real telemetry fed into the running API as if it were live."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from taxinav.calendar import local_midnight
from taxinav.settings import Settings
from taxinav.warehouse import open_reader

log = logging.getLogger(__name__)
Post = Callable[[list[dict[str, Any]]], int]  # a batch of fixes → HTTP status


def day_fixes(settings: Settings, day: date) -> pa.Table:
    """The day's validated fixes in time order (from the warehouse, read-only)."""
    start = local_midnight(day, settings.tz)
    end = local_midnight(date.fromordinal(day.toordinal() + 1), settings.tz)
    con = open_reader(settings)
    try:
        return con.sql(
            """SELECT vehicle_id, ts, lat, lon, occupied FROM telemetry
               WHERE ts >= $s AND ts < $e ORDER BY ts, vehicle_id""",
            params={"s": start, "e": end},
        ).to_arrow_table()
    finally:
        con.close()


def batches(fixes: pa.Table, window_s: float) -> Iterator[tuple[datetime, list[dict[str, Any]]]]:
    """Consecutive windows of ``window_s`` seconds of data time, as JSON-ready fixes."""
    rows = fixes.to_pylist()
    i = 0
    while i < len(rows):
        t0: datetime = rows[i]["ts"]
        batch = []
        while i < len(rows) and (rows[i]["ts"] - t0).total_seconds() < window_s:
            r = rows[i]
            batch.append({"vehicle_id": r["vehicle_id"], "ts": r["ts"].isoformat(),
                          "lat": r["lat"], "lon": r["lon"], "occupied": r["occupied"]})  # fmt: skip
            i += 1
        yield t0, batch


def feed(fixes: pa.Table, post: Post, speed: float, stop: threading.Event,
         tick_s: float = 1.0, max_items: int = 5000) -> dict[str, int]:  # fmt: skip
    """Post the fixes in data-time order, ``speed`` × faster than they happened."""
    sent = failed = 0
    started = time.monotonic()
    first: datetime | None = None
    for t0, batch in batches(fixes, speed * tick_s):
        if stop.is_set():
            break
        first = first or t0
        due = started + (t0 - first).total_seconds() / speed
        time.sleep(max(0.0, due - time.monotonic()))
        for k in range(0, len(batch), max_items):
            part = batch[k : k + max_items]
            status = post(part)
            if status == 200:
                sent += len(part)
            else:
                failed += len(part)
                log.warning("replay batch rejected with HTTP %s", status)
    return {"sent": sent, "failed": failed}
