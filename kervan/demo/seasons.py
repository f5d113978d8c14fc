"""The demo shop's seasons: which days and hours people shop, in Europe/Istanbul.

Demand per day = growth trend × month × weekday × special days: Efsane Cuma (Black Friday) week, 11.11,
the week before Ramazan and Kurban Bayramı (quiet during the holiday itself), Valentine's and Mother's Day,
the new-year gift weeks and back-to-school. Times are drawn from an hour-of-day curve that peaks at lunch
and in the evening. Everything is a pure function of the `until` date, so the same date gives the same data.
"""

import bisect
import datetime as dt
import random
from itertools import accumulate
from zoneinfo import ZoneInfo

ISTANBUL = ZoneInfo("Europe/Istanbul")
# The last day of demo data when none is given: data never depends on the day the loader runs.
DEFAULT_UNTIL = dt.date(2026, 11, 20)
WINDOW_DAYS = 730

# First day and length of each Bayram (Diyanet calendar).
BAYRAMS = (
    (dt.date(2023, 4, 21), 3), (dt.date(2023, 6, 28), 4),
    (dt.date(2024, 4, 10), 3), (dt.date(2024, 6, 16), 4),
    (dt.date(2025, 3, 30), 3), (dt.date(2025, 6, 6), 4),
    (dt.date(2026, 3, 20), 3), (dt.date(2026, 5, 27), 4),
    (dt.date(2027, 3, 9), 3), (dt.date(2027, 5, 16), 4),
    (dt.date(2028, 2, 26), 3), (dt.date(2028, 5, 5), 4),
)  # fmt: skip
MONTH = (0.95, 0.88, 0.97, 0.98, 1.0, 0.97, 0.9, 0.92, 1.0, 1.02, 1.15, 1.15)
WEEKDAY = (1.08, 1.02, 1.0, 0.98, 0.97, 0.88, 1.07)  # Monday first: Sunday evening and Monday are busiest
HOURS = (
    0.25, 0.15, 0.08, 0.05, 0.04, 0.06, 0.15, 0.35, 0.6, 0.85, 1.0, 1.1,
    1.2, 1.15, 1.05, 1.0, 1.0, 1.05, 1.1, 1.25, 1.45, 1.55, 1.35, 0.8,
)  # fmt: skip


def efsane_cuma(year: int) -> dt.date:
    """Black Friday: the Friday after the fourth Thursday of November."""
    first = dt.date(year, 11, 1)
    first_thursday = first + dt.timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + dt.timedelta(days=22)


def _mothers_day(year: int) -> dt.date:
    first = dt.date(year, 5, 1)
    return first + dt.timedelta(days=(6 - first.weekday()) % 7 + 7)


def _special(day: dt.date) -> float:
    factor = 1.0
    bf = efsane_cuma(day.year)
    offset = (day - bf).days
    if offset == 0:
        factor *= 3.5
    elif offset == 3:  # Cyber Monday
        factor *= 2.2
    elif -4 <= offset <= 2:
        factor *= 2.0
    if (day.month, day.day) == (11, 11):
        factor *= 2.2
    elif day.month == 11 and day.day in (10, 12):
        factor *= 1.3
    if day.month == 12 and 15 <= day.day <= 30:
        factor *= 1.25
    if day.month == 2 and 7 <= day.day <= 13:
        factor *= 1.15
    if day.month == 9 and day.day <= 10:
        factor *= 1.15
    if 0 < (_mothers_day(day.year) - day).days <= 7:
        factor *= 1.2
    for first, length in BAYRAMS:
        before = (first - day).days
        if 0 < before <= 7:
            factor *= 1.35
        elif 0 <= -before < length:
            factor *= 0.75
    return factor


def in_efsane_cuma_week(day: dt.date) -> bool:
    return -4 <= (day - efsane_cuma(day.year)).days <= 3


def before_bayram(day: dt.date) -> bool:
    return any(0 < (first - day).days <= 7 for first, _ in BAYRAMS)


MONTH_SLUGS = ("ocak", "subat", "mart", "nisan", "mayis", "haziran", "temmuz", "agustos", "eylul", "ekim", "kasim",
               "aralik")  # fmt: skip


def _campaign(day: dt.date) -> str:
    if in_efsane_cuma_week(day):
        return f"efsane-cuma-{day.year}"
    if before_bayram(day):
        return f"bayram-{day.year}"
    if day.month == 12 and day.day >= 15:
        return f"yilbasi-{day.year}"
    return f"{MONTH_SLUGS[day.month - 1]}-{day.year}"


def _promotion(day: dt.date) -> str:
    """Which seasonal code shoppers have that day: "efsane", "1111", "bayram", or the month's ("" for none)."""
    if in_efsane_cuma_week(day):
        return "efsane"
    if (day.month, day.day) == (11, 11):
        return "1111"
    if before_bayram(day):
        return "bayram"
    return {12: "winter", 1: "winter", 2: "winter", 6: "summer", 7: "summer", 8: "summer"}.get(day.month, "")


class ShopCalendar:
    """Days of the data window with their demand, and samplers for a day and a time of day."""

    def __init__(self, until: dt.date = DEFAULT_UNTIL, days: int = WINDOW_DAYS):
        self.until = until
        self.first = until - dt.timedelta(days=days - 1)
        self.days = [self.first + dt.timedelta(days=i) for i in range(days)]
        # Local midnight of each day as a UTC epoch; one more for the end of the window ("now").
        self.day_start = [
            int(dt.datetime.combine(d, dt.time(), ISTANBUL).timestamp()) for d in [*self.days, until + dt.timedelta(1)]
        ]
        self.now = self.day_start[-1]
        weights = [(0.7 + 0.3 * i / days) * MONTH[d.month - 1] * WEEKDAY[d.weekday()] * _special(d)
                   for i, d in enumerate(self.days)]  # fmt: skip
        self.demand = weights
        # Per day: the campaign a marketing link would carry, and which discount code is in season.
        self.campaign = [_campaign(d) for d in self.days]
        self.promotion = [_promotion(d) for d in self.days]
        self.cumulative = [0.0, *accumulate(weights)]
        self.hour_cumulative = list(accumulate(HOURS))

    def day_index(self, ts: int) -> int:
        """The window day holding the instant `ts` (clamped to the window)."""
        return min(max(bisect.bisect_right(self.day_start, ts) - 1, 0), len(self.days) - 1)

    def remaining_share(self, day: int) -> float:
        """The share of all demand that falls on or after `day`."""
        return (self.cumulative[-1] - self.cumulative[day]) / self.cumulative[-1]

    def sample_day(self, rng: random.Random, from_day: int = 0) -> int:
        low = self.cumulative[from_day]
        target = low + rng.random() * (self.cumulative[-1] - low)
        return min(bisect.bisect_right(self.cumulative, target) - 1, len(self.days) - 1)

    def sample_time(self, rng: random.Random, day: int) -> int:
        hour = bisect.bisect_right(self.hour_cumulative, rng.random() * self.hour_cumulative[-1])
        return self.day_start[day] + min(hour, 23) * 3600 + int(rng.random() * 3600)
