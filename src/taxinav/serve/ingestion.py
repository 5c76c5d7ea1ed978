"""Durable ingestion: accepted items are fsynced to the append log before the API answers;
closed log segments are loaded into the landing store; on start, what a previous process
acknowledged is loaded and replayed into the live state."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from pydantic import TypeAdapter

from taxinav.serve.landing import load_records
from taxinav.serve.live import LiveState
from taxinav.serve.schemas import Fix, IngestResult, RideEvent, validate_items
from taxinav.serve.wal import AppendLog
from taxinav.settings import Settings
from taxinav.warehouse import connect

_FIXES, _RIDES = TypeAdapter(list[Fix]), TypeAdapter(list[RideEvent])


class Ingestion:
    def __init__(self, settings: Settings, log: AppendLog, stats: Counter[str]) -> None:
        self.settings = settings
        self.log = log
        self.stats = stats
        self.ride_keys: set[str] = set()
        self.last_ingest = time.time()  # wall clock of the last new fix
        self._lock = threading.Lock()

    def recover(self, live: LiveState) -> None:
        """Load what a previous process acknowledged, and rebuild the live state from it."""
        recovered = 0
        for seg in self.log.closed_segments():
            for kind, items in self.log.read(seg):
                if kind == "fixes":
                    fixes = [Fix.model_validate(i) for i in items]
                    live.apply(fixes)
                    recovered += len(fixes)
        self.flush()
        self.stats["recovered_fixes"] += recovered

    def fixes(self, live: LiveState, items: list[Any]) -> IngestResult:
        good, rejected = validate_items(items, Fix)
        with self._lock:
            new, repeats = live.split_new([f for _, f in good])
            if new:
                self.log.append("fixes", _FIXES.dump_json(new))
                live.apply(new)
                self.last_ingest = time.time()
        self.stats.update(fixes_accepted=len(new), fixes_repeated=repeats,
                          fixes_rejected=len({r.index for r in rejected}))  # fmt: skip
        return IngestResult(accepted=len(new), duplicates=len(good) - len(new), rejected=rejected)

    def rides(self, live: LiveState, items: list[Any]) -> IngestResult:
        good, rejected = validate_items(items, RideEvent)
        with self._lock:
            new = [e for _, e in good if e.event_key not in self.ride_keys]
            new = list({e.event_key: e for e in new}.values())
            if new:
                self.log.append("rides", _RIDES.dump_json(new))
                self.ride_keys.update(e.event_key for e in new)
                for e in new:
                    if e.kind == "pickup":
                        live.add_reported_pickup(e.lat, e.lon, e.ts)
        self.stats.update(rides_accepted=len(new), rides_rejected=len({r.index for r in rejected}))
        return IngestResult(accepted=len(new), duplicates=len(good) - len(new), rejected=rejected)

    def flush(self) -> int:
        """Load closed log segments into the landing store; returns the records loaded."""
        self.log.rotate()
        segments = self.log.closed_segments()
        if not segments:
            return 0
        s = self.settings
        con = connect(s.api_landing_path, memory_limit=s.duckdb_memory_limit, threads=1)
        n = 0
        try:
            for seg in segments:
                records = list(self.log.read(seg))
                self.stats.update(load_records(con, records))
                n += len(records)
            for seg in segments:  # only after every load committed
                self.log.done(seg)
        finally:
            con.close()
        return n
