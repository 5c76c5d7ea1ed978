"""Time slots and the forecast horizon: the one place that says which slot an instant is in
and what "the next 30 minutes" means in slots and seconds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

MINUTES_PER_DAY = 24 * 60
# Slots are aligned to whole slots since this instant (the stored counts' buckets are too).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The longest look-back of any feature, in days: statistics of earlier days and a unit's rate
# cover the last four weeks (every weekday four times), so older counts are never read.
HISTORY_DAYS = 28


class _ForecastSection(Protocol):
    slot_minutes: int
    horizon_min: int


@dataclass(frozen=True)
class Slotting:
    """Slots of ``slot_minutes`` minutes; forecasts count pickups over ``horizon_slots`` slots."""

    slot_minutes: int = 10
    horizon_slots: int = 3

    def __post_init__(self) -> None:
        if self.slot_minutes <= 0 or MINUTES_PER_DAY % self.slot_minutes:
            raise ValueError(f"a slot of {self.slot_minutes} min does not divide a day")
        if self.horizon_slots <= 0:
            raise ValueError(
                f"the forecast horizon must be at least one slot, not {self.horizon_slots}"
            )

    @classmethod
    def of(cls, slot_minutes: int, horizon_min: float) -> Slotting:
        """The horizon in minutes, converted to slots; it must be a whole number of slots."""
        slots = horizon_min / slot_minutes
        if slots != int(slots) or slots < 1:
            raise ValueError(
                f"the forecast horizon of {horizon_min:g} min is not a multiple of the "
                f"{slot_minutes}-minute slot"
            )
        return cls(int(slot_minutes), int(slots))

    @classmethod
    def of_forecast(cls, forecast: _ForecastSection) -> Slotting:
        """From the forecast settings (``TAXINAV_FORECAST__SLOT_MINUTES`` / ``__HORIZON_MIN``)."""
        return cls.of(forecast.slot_minutes, forecast.horizon_min)

    @property
    def slot_s(self) -> int:
        return 60 * self.slot_minutes

    @property
    def horizon_min(self) -> int:
        return self.slot_minutes * self.horizon_slots

    @property
    def horizon_s(self) -> float:
        return 60.0 * self.horizon_min

    @property
    def per_day(self) -> int:
        return MINUTES_PER_DAY // self.slot_minutes

    def slots(self, minutes: float) -> int:
        """The window of about ``minutes`` in whole slots (at least one)."""
        return max(1, round(minutes / self.slot_minutes))

    def index(self, when: datetime, origin: datetime) -> int:
        """Index of the slot containing ``when``, counted from ``origin``."""
        return math.floor((when - origin).total_seconds() / self.slot_s)

    def start(self, origin: datetime, index: int) -> datetime:
        return origin + timedelta(seconds=self.slot_s * index)

    def floor(self, when: datetime, origin: datetime = EPOCH) -> datetime:
        """Start of the slot containing ``when`` (in ``when``'s time zone)."""
        return self.start(origin, self.index(when, origin)).astimezone(when.tzinfo)


DEFAULT_SLOTTING = Slotting()  # 10-minute slots, a 30-minute horizon
