"""Time in the fleet's city: local days (`Day`), holidays and day kinds, slot calendars.

The ground floor for time: every domain takes its time zone as a ``ZoneInfo``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pyarrow as pa

SLOTS_PER_DAY_MIN = 24 * 60


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """Midnight of ``day`` in ``tz``, as a UTC instant."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Day:
    """A local calendar day of the fleet's city and its bounds as UTC instants."""

    day: date
    start: datetime
    end: datetime

    @classmethod
    def of(cls, day: date, tz: ZoneInfo) -> Day:
        return cls(day, local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz))

    @classmethod
    def parse(cls, key: str, tz: ZoneInfo) -> Day:
        try:
            return cls.of(date.fromisoformat(key), tz)
        except ValueError as exc:
            raise ValueError(f"partition {key!r} is not a date (YYYY-MM-DD)") from exc


def holiday_dates(first_year: int, last_year: int) -> list[date]:
    """US federal holidays of those years (local dates)."""
    return sorted(holidays.country_holidays("US", years=range(first_year, last_year + 1)))


def is_day_off(day: date) -> bool:
    """A weekend day or a US federal holiday."""
    return day.weekday() >= 5 or day in holidays.country_holidays("US", years=day.year)


def slot_table(origin: datetime, n_slots: int, slot_minutes: int, tz: ZoneInfo) -> pa.Table:
    """One row per slot: index, start (UTC), local hour/weekday/slot-of-day, day type.

    Holidays (US federal, by local date) count as non-working days, like weekends: demand on
    Memorial Day looks like a Sunday's, not a Monday's.
    """
    starts = [origin + timedelta(minutes=slot_minutes * i) for i in range(n_slots)]
    local = [s.astimezone(tz) for s in starts]
    years = sorted({d.year for d in local})
    us_holidays = holidays.country_holidays("US", years=years)
    holiday = np.array([d.date() in us_holidays for d in local])
    weekday = np.array([d.weekday() for d in local], dtype=np.int64)
    day0 = local[0].date() if local else origin.date()
    return pa.table(
        {
            "slot": pa.array(np.arange(n_slots, dtype=np.int64)),
            "slot_start": pa.array(starts, pa.timestamp("us", tz="UTC")),
            "day": pa.array([(d.date() - day0).days for d in local], pa.int64()),
            "hour": pa.array([d.hour for d in local], pa.int64()),
            "weekday": pa.array(weekday),
            "slot_of_day": pa.array(
                [(d.hour * 60 + d.minute) // slot_minutes for d in local], pa.int64()
            ),
            "holiday": pa.array(holiday),
            "day_off": pa.array(holiday | (weekday >= 5)),
        }
    )
