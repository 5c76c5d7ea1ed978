"""Durable ingestion: accepted items are fsynced to the append log before the API answers;
closed log segments are landed (`landing.write_lines`); on start, what a previous process
acknowledged is landed and replayed into the live state.

A bad line in a segment is counted (``log_corrupt_lines``), quarantined under the log, logged
and alerted (kind ``log_corrupt``) once, and the rest of its segment is landed; a torn tail
(never acknowledged) is counted (``log_torn_tail``) and ignored. A segment is deleted only
after its good lines are landed and its bad ones quarantined."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

from pydantic import Field, TypeAdapter

from taxinav.mlops.monitoring import Monitor
from taxinav.serve.claims import Claims
from taxinav.serve.histograms import Histograms
from taxinav.serve.landing import write_lines
from taxinav.serve.schemas import Fix, IngestResult, RideEvent, validate_items
from taxinav.serve.wal import AppendLog, Problem, Record
from taxinav.settings import Settings

log = logging.getLogger(__name__)
KEEP_RIDE_KEYS = timedelta(days=2)
FIXES_JSON, RIDES_JSON = TypeAdapter(list[Fix]), TypeAdapter(list[RideEvent])
_SCHEMAS: dict[str, TypeAdapter[Any]] = {"fixes": FIXES_JSON, "rides": RIDES_JSON}
Accepted = Callable[[list[Fix], bytes], None]  # new fixes, and their JSON array as logged


class _FixesRecord(TypedDict):
    kind: Literal["fixes"]
    items: list[Fix]


class _RidesRecord(TypedDict):
    kind: Literal["rides"]
    items: list[RideEvent]


# A log line as the API wrote it, validated from its bytes in one call (no Python objects
# per item are kept: the landing parses the line again, with the interpreter released).
RECORD_JSON: TypeAdapter[_FixesRecord | _RidesRecord] = TypeAdapter(
    Annotated[_FixesRecord | _RidesRecord, Field(discriminator="kind")]
)


def _validate(kind: str, items: list[dict[str, Any]]) -> None:
    """A logged record must still be what the API accepted, or landing it would fail."""
    schema = _SCHEMAS.get(kind)
    if schema is None:
        raise ValueError(f"unknown record kind {kind!r}")
    schema.validate_python(items)  # a ValidationError is a ValueError


def phase_histograms() -> Histograms:
    return Histograms(
        "taxinav_ingest_phase_duration_seconds",
        "Time an accepted batch of "
        "fixes spent in each step before its acknowledgement (validate, queue: "
        "waiting for the ingestion lock, log: claim, write and fsync)",
        ["phase"],
    )


class Ingestion:
    """``publish``: where an accepted batch is made durable before the answer — by default
    the append log; with a stream, its publisher (``stream.Publisher.append``).
    ``landing_source``: the name its landed segments carry (one per ingest worker)."""

    def __init__(
        self, settings: Settings, log: AppendLog, stats: Counter[str], monitor: Monitor,
        publish: Callable[[str, bytes], None] | None = None, landing_source: str = "api",
    ) -> None:  # fmt: skip
        self.settings = settings
        self.log = log
        self.landing_source = landing_source
        self._durable = publish or log.append
        self.stats = stats
        self.monitor = monitor
        self._reported: set[tuple[str, int]] = set()  # problems (file, line) handled
        self._report_lock = threading.Lock()
        # Event keys received, with the event's time: kept ``KEEP_RIDE_KEYS`` behind the
        # data clock (a retry comes within seconds; the warehouse dedups the rest by key).
        self.ride_keys: dict[str, datetime] = {}
        self._keys_pruned: datetime | None = None  # newest event time at the last pruning
        self.claims = Claims()
        self.last_ingest = time.time()  # wall clock of the last new fix
        self.phases = phase_histograms()
        self._lock = threading.Lock()

    def recover(self, to: Callable[[list[Fix]], None]) -> None:
        """Load what a previous process acknowledged: its fixes are claimed and handed to
        ``to`` (the live state), and the log is landed."""
        recovered = 0
        for seg in self.log.closed_segments():
            for kind, items in self._read(seg):
                if kind == "fixes":
                    new, _ = self.claims.claim([Fix.model_validate(i) for i in items])
                    to(new)
                    recovered += len(new)
        self.flush()
        self.stats["recovered_fixes"] += recovered

    def fixes(self, items: list[Any], accepted: Accepted) -> IngestResult:
        """Validate, drop repeats, log durably; then hand the new fixes (and their JSON array,
        as logged) to ``accepted``: the live state, or its queue."""
        started = time.perf_counter()
        good, rejected = validate_items(items, Fix)
        validated = time.perf_counter()
        with self._lock:
            locked = time.perf_counter()
            new, repeats = self.claims.claim([f for _, f in good])
            if new:
                raw = FIXES_JSON.dump_json(new)
                try:
                    self._durable("fixes", raw)
                except BaseException:
                    self.claims.unclaim(new)  # not stored: a retry must not look like a repeat
                    raise
                self.phases.observe(("log",), time.perf_counter() - locked)
                accepted(new, raw)
                self.last_ingest = time.time()
        self.phases.observe(("validate",), validated - started)
        self.phases.observe(("queue",), locked - validated)
        self.stats.update(fixes_accepted=len(new), fixes_repeated=repeats,
                          fixes_rejected=len({r.index for r in rejected}))  # fmt: skip
        return IngestResult(accepted=len(new), duplicates=len(good) - len(new), rejected=rejected)

    def rides(self, items: list[Any], pickups: Callable[[list[RideEvent]], None]) -> IngestResult:
        """Validate, drop repeated event keys, log durably; reported pickups go to ``pickups``."""
        good, rejected = validate_items(items, RideEvent)
        with self._lock:
            new = [e for _, e in good if e.event_key not in self.ride_keys]
            new = list({e.event_key: e for e in new}.values())
            if new:
                self._durable("rides", RIDES_JSON.dump_json(new))
                self.ride_keys.update((e.event_key, e.ts) for e in new)
                pickups([e for e in new if e.kind == "pickup"])
                self._forget_old_keys(max(e.ts for e in new))
        self.stats.update(rides_accepted=len(new), rides_rejected=len({r.index for r in rejected}))
        return IngestResult(accepted=len(new), duplicates=len(good) - len(new), rejected=rejected)

    def _forget_old_keys(self, newest: datetime) -> None:
        """At most once an hour of event time: forget keys ``KEEP_RIDE_KEYS`` behind."""
        if self._keys_pruned is None or newest - self._keys_pruned >= timedelta(hours=1):
            self._drop_keys_behind(newest)
            self._keys_pruned = newest

    def forget_rides_before(self, clock: datetime) -> None:
        """Forget the keys of ride events older than ``KEEP_RIDE_KEYS`` before ``clock``."""
        with self._lock:
            self._drop_keys_behind(clock)

    def _drop_keys_behind(self, clock: datetime) -> None:  # the caller holds the lock
        cut = clock - KEEP_RIDE_KEYS
        self.ride_keys = {k: ts for k, ts in self.ride_keys.items() if ts >= cut}

    def flush(self) -> int:
        """Land closed log segments (each as its own files, so landing one again after a
        crash replaces it); a segment is deleted once landed. Returns the records landed."""
        self.log.rotate()
        n = 0
        for seg in self.log.closed_segments():
            lines = self._good_lines(seg)  # bad lines are quarantined before the segment goes
            landed = write_lines(self.settings.api_landing_dir, int(seg.stem), lines,
                                 datetime.now(UTC), self.landing_source)  # fmt: skip
            self.stats.update(landed)
            self.log.done(seg)
            n += len(lines)
        self.log.prepare_next()
        return n

    def _read(self, seg: Path) -> list[Record]:
        """The good records of a segment; its problems are reported (each once)."""
        problems: list[Problem] = []
        records = list(self.log.read(seg, problems, torn_tail_ok=self.log.may_be_torn(seg),
                                     validate=_validate))  # fmt: skip
        for p in problems:
            self._report(p)
        return records

    def _good_lines(self, seg: Path) -> list[bytes]:
        """`_read`'s lines, undecoded: the same records are good and the same problems
        reported."""
        problems: list[Problem] = []
        lines = list(self.log.read_lines(seg, RECORD_JSON.validate_json, problems,
                                         torn_tail_ok=self.log.may_be_torn(seg)))  # fmt: skip
        for p in problems:
            self._report(p)
        return lines

    def _report(self, p: Problem) -> None:
        """Count a problem; quarantine, log and alert a bad line. Marked as handled only once
        quarantined: if that fails, the flush fails and keeps the segment for the next try."""
        with self._report_lock:
            if (p.file, p.line) not in self._reported:
                self._report_new(p)
                self._reported.add((p.file, p.line))

    def _report_new(self, p: Problem) -> None:
        if p.torn_tail:
            log.warning("append log %s: ignoring the torn last line %d (never acknowledged)",
                        p.file, p.line)  # fmt: skip
            self.stats["log_torn_tail"] += 1
        else:
            where = self.log.quarantine(p)
            log.error("append log %s line %d is corrupt (%s); quarantined in %s",
                      p.file, p.line, p.error, where)  # fmt: skip
            self.stats["log_corrupt_lines"] += 1
            self.monitor.log_corruption(datetime.now(UTC).isoformat(), p.file, p.line, p.error)
