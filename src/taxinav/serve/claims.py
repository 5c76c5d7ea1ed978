"""Which fixes were accepted: a repeat is known from the moment its first copy is
acknowledged (kept apart from the live state, so the acknowledging process needs nothing
else)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from taxinav.serve.schemas import Fix

__all__ = ["Claims", "Recent"]
RECENT_KEYS = 512  # per vehicle (~8 h at a fix a minute): repeats older than that are late fixes


@dataclass
class Recent:
    """A vehicle's latest fix times: a fix at one of them is a repeat."""

    keys: deque[datetime] = field(default_factory=lambda: deque(maxlen=RECENT_KEYS))
    seen: set[datetime] = field(default_factory=set)

    def remember(self, ts: datetime) -> None:
        if len(self.keys) == self.keys.maxlen:
            self.seen.discard(self.keys[0])
        self.keys.append(ts)
        self.seen.add(ts)

    def forget(self, ts: datetime) -> None:
        if ts in self.seen:
            self.seen.discard(ts)
            self.keys.remove(ts)


class Claims:
    """The fixes accepted so far, per vehicle, while the live state catches up behind the
    acknowledgement. Its own lock: an acknowledgement must not wait for the applier's hold
    on the live state."""

    def __init__(self) -> None:
        self.recent: dict[str, Recent] = {}  # fix times seen per vehicle
        self._lock = threading.Lock()

    def claim(self, fixes: list[Fix]) -> tuple[list[Fix], int]:
        """The fixes not seen before (once each, in time order), now marked as seen, and how
        many were repeats."""
        new: list[Fix] = []
        with self._lock:
            for f in sorted(fixes, key=lambda f: (f.vehicle_id, f.ts)):
                recent = self.recent.get(f.vehicle_id)
                if recent is None:
                    recent = self.recent[f.vehicle_id] = Recent()
                elif f.ts in recent.seen:
                    continue
                recent.remember(f.ts)
                new.append(f)
        return new, len(fixes) - len(new)

    def unclaim(self, fixes: list[Fix]) -> None:
        """Forget claimed fixes that were not stored after all (a retry must be accepted)."""
        with self._lock:
            for f in fixes:
                recent = self.recent.get(f.vehicle_id)
                if recent is not None:
                    recent.forget(f.ts)
