"""Business-time arithmetic for SLA targets: add business time to an instant and count the business time between two
instants, skipping nights, closed weekdays and Turkish public holidays.

Hours are {weekday (0 = Monday): ["HH:MM", "HH:MM"]} in a time zone (an SlaPolicy's). Public holidays come from the
`holidays` package, whose Turkish calendar places Ramazan and Kurban Bayramı on their (moving) dates each year; the
half-day eves (arife) are working days there, and here."""

import datetime as dt
import functools
import zoneinfo

import holidays

from kervan.support.models import DEFAULT_BUSINESS_HOURS

MAX_DAYS = 3 * 366  # a target further than this is a configuration mistake: stop instead of looping for ever


@functools.lru_cache(maxsize=32)
def _holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.Turkey(years=year).keys())


def is_holiday(day: dt.date) -> bool:
    return day in _holidays(day.year)


@functools.lru_cache(maxsize=128)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _hhmm(value: str) -> dt.time:
    hours, minutes = str(value).split(":")
    return dt.time(int(hours), int(minutes))


class BusinessHours:
    def __init__(self, hours: dict | None = None, timezone: str = "Europe/Istanbul"):
        self.zone = _zone(timezone)
        self.days: dict[int, tuple[dt.time, dt.time]] = {}
        for day, (start, end) in (hours if hours is not None else DEFAULT_BUSINESS_HOURS).items():
            opens, closes = _hhmm(start), _hhmm(end)
            if opens < closes:
                self.days[int(day)] = (opens, closes)

    @classmethod
    def of(cls, policy) -> "BusinessHours":
        if policy is None:
            return cls()
        return cls(policy.business_hours, policy.timezone)

    def window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        """The day's open hours as aware datetimes, or None on a closed day or a public holiday."""
        hours = self.days.get(day.weekday())
        if hours is None or is_holiday(day):
            return None
        return (
            dt.datetime.combine(day, hours[0], tzinfo=self.zone),
            dt.datetime.combine(day, hours[1], tzinfo=self.zone),
        )

    def add(self, start: dt.datetime, delta: dt.timedelta) -> dt.datetime:
        """The instant `delta` of business time after `start` (the next opening when `start` is outside hours)."""
        if delta <= dt.timedelta(0):
            return start
        if not self.days:
            raise ValueError("Business hours without an open day cannot reach a target.")
        left = delta
        local = start.astimezone(self.zone)
        day = local.date()
        for _ in range(MAX_DAYS):
            window = self.window(day)
            if window is not None:
                begin = max(local, window[0])
                if begin < window[1]:
                    available = window[1] - begin
                    if left <= available:
                        return (begin + left).astimezone(dt.UTC)
                    left -= available
            day += dt.timedelta(days=1)
        raise ValueError("The target is further than three years of business hours.")

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Business time from `start` to `end` (zero when `end` is not later)."""
        total = dt.timedelta(0)
        if end <= start:
            return total
        first, last = start.astimezone(self.zone), end.astimezone(self.zone)
        day = first.date()
        while day <= last.date():
            window = self.window(day)
            if window is not None:
                begin, finish = max(first, window[0]), min(last, window[1])
                if finish > begin:
                    total += finish - begin
            day += dt.timedelta(days=1)
        return total


def add_business_minutes(start: dt.datetime, minutes: float, hours: BusinessHours | None = None) -> dt.datetime:
    return (hours or BusinessHours()).add(start, dt.timedelta(minutes=minutes))


def business_minutes_between(start: dt.datetime, end: dt.datetime, hours: BusinessHours | None = None) -> float:
    return (hours or BusinessHours()).between(start, end).total_seconds() / 60
