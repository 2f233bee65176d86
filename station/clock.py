"""The station's wall clock: UTC instants and the local calendar day in the station's time zone.

Dates on goods (use-by, best-before), the volunteers' throttle day and the end-of-day report all
follow the station's local day (`[station] timezone`), not the process's time zone. Services take
a clock instead of calling `datetime.now()`, so tests can run a day in milliseconds (`ManualClock`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    """What services ask of the time."""

    tz: ZoneInfo

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...

    def today(self) -> date:
        """The current calendar day in the station's time zone."""
        ...


class SystemClock:
    """The real time."""

    def __init__(self, tz: str | ZoneInfo = "Europe/Berlin") -> None:
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()


class ManualClock:
    """A clock that moves only when told (tests, simulations)."""

    def __init__(self, start: datetime, tz: str | ZoneInfo = "Europe/Berlin") -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def today(self) -> date:
        return self._now.astimezone(self.tz).date()

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("use a timezone-aware time")
        self._now = moment.astimezone(UTC)


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of `day` in `tz`, as UTC (a day may last 23 or 25 hours around DST changes)."""
    return datetime.combine(day, time.min, tz).astimezone(UTC)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start of `day`, start of the next day) in `tz`, as UTC instants."""
    return start_of_day(day, tz), start_of_day(day + timedelta(days=1), tz)
