"""When a scheduled export runs next, and which period a run covers, on the wall clock of the schedule's zone
(Europe/Istanbul by default: UTC+3 all year since 2016; a zone with summer time keeps its wall-clock time)."""

import calendar
import datetime as dt
import zoneinfo

from django.conf import settings

from kervan.outbound.models import ExportSchedule

MAX_DAYS_AHEAD = 400


def zone_of(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _runs_on(schedule: ExportSchedule, day: dt.date) -> bool:
    if schedule.frequency == ExportSchedule.Frequency.WEEKLY:
        return day.weekday() == schedule.weekday
    if schedule.frequency == ExportSchedule.Frequency.MONTHLY:
        last = calendar.monthrange(day.year, day.month)[1]
        return day.day == min(schedule.day_of_month, last)  # the 31st is a short month's last day
    return True


def next_run(schedule: ExportSchedule, after: dt.datetime) -> dt.datetime:
    """The first run strictly after `after` (aware), in UTC."""
    zone = zone_of(schedule.time_zone)
    local = after.astimezone(zone)
    for days in range(MAX_DAYS_AHEAD):
        day = local.date() + dt.timedelta(days=days)
        if not _runs_on(schedule, day):
            continue
        # fold=0 and a round trip through UTC: a time that does not exist (a summer-time gap) moves forward.
        candidate = dt.datetime.combine(day, schedule.at_time, tzinfo=zone).astimezone(dt.UTC)
        if candidate > after:
            return candidate
    raise ValueError("no run within a year")  # unreachable: every month has a day that matches


def period_bounds(schedule: ExportSchedule, now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime]:
    """[start, end) of what a run at `now` covers; start None: from the beginning."""
    zone = zone_of(schedule.time_zone)
    today = now.astimezone(zone).date()

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)

    if schedule.period == ExportSchedule.Period.LAST_DAY:
        return midnight(today - dt.timedelta(days=1)), midnight(today)
    if schedule.period == ExportSchedule.Period.LAST_WEEK:
        return midnight(today - dt.timedelta(days=7)), midnight(today)
    if schedule.period == ExportSchedule.Period.LAST_MONTH:
        first = today.replace(day=1)
        previous = (first - dt.timedelta(days=1)).replace(day=1)
        return midnight(previous), midnight(first)
    return schedule.last_run_until, now
