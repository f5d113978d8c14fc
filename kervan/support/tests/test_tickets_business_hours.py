"""Business-time arithmetic: nights, weekends and the Turkish public holidays of the `holidays` package (the
Bayrams move every year)."""

import datetime as dt
import zoneinfo

import holidays

from kervan.support.business_hours import BusinessHours, add_business_minutes, business_minutes_between, is_holiday

IST = zoneinfo.ZoneInfo("Europe/Istanbul")


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=IST)


def test_the_turkish_calendar_places_the_bayrams_on_their_dates_each_year():
    days_2026 = {d for d, name in holidays.Turkey(years=2026).items() if "Eid al-Adha" in name}
    assert days_2026 == {dt.date(2026, 5, d) for d in (27, 28, 29, 30)}  # Kurban Bayramı (26 May: arife, working)
    ramazan_2027 = {d for d, name in holidays.Turkey(years=2027).items() if "Eid al-Fitr" in name}
    assert ramazan_2027 == {dt.date(2027, 3, d) for d in (9, 10, 11)}
    assert is_holiday(dt.date(2027, 5, 16)) and is_holiday(dt.date(2026, 10, 29))
    assert not is_holiday(dt.date(2026, 5, 26))


def test_within_one_day_and_across_a_night():
    assert add_business_minutes(at(2026, 12, 7, 10, 0), 60) == at(2026, 12, 7, 11, 0)
    # 17:00 Monday + 2 h: one hour left on Monday, the second from 09:00 on Tuesday
    assert add_business_minutes(at(2026, 12, 7, 17, 0), 120) == at(2026, 12, 8, 10, 0)
    # before opening: counts from 09:00
    assert add_business_minutes(at(2026, 12, 7, 6, 30), 30) == at(2026, 12, 7, 9, 30)
    # the result is UTC (Istanbul is UTC+3 all year)
    assert add_business_minutes(at(2026, 12, 7, 10, 0), 60).tzinfo == dt.UTC


def test_a_weekend_is_skipped():
    friday_evening = at(2026, 12, 11, 17, 30)
    assert add_business_minutes(friday_evening, 60) == at(2026, 12, 14, 9, 30)
    assert business_minutes_between(friday_evening, at(2026, 12, 14, 9, 30)) == 60
    assert business_minutes_between(at(2026, 12, 12, 10, 0), at(2026, 12, 13, 16, 0)) == 0


def test_kurban_bayrami_2026_is_skipped():
    # Tuesday 26 May 2026 (arife) 17:00 + 2 h: 27–30 May are holidays, 31 May a Sunday → Monday 1 June 10:00
    assert add_business_minutes(at(2026, 5, 26, 17, 0), 120) == at(2026, 6, 1, 10, 0)
    assert business_minutes_between(at(2026, 5, 26, 9, 0), at(2026, 6, 1, 18, 0)) == 2 * 9 * 60


def test_ramazan_bayrami_2027_and_19_may_on_kurban_bayrami():
    # Monday 8 March 2027 17:00 + 2 h: 9–11 March Ramazan Bayramı → Friday 12 March 10:00
    assert add_business_minutes(at(2027, 3, 8, 17, 0), 120) == at(2027, 3, 12, 10, 0)
    # Kurban Bayramı 2027 is 16–19 May (Sunday to Wednesday): Friday 14 May 18:00 + 1 h → Thursday 20 May 10:00
    assert add_business_minutes(at(2027, 5, 14, 18, 0), 60) == at(2027, 5, 20, 10, 0)


def test_a_policys_own_hours_and_zone():
    hours = BusinessHours({"5": ["10:00", "14:00"]}, "Europe/London")  # Saturdays only, London time
    saturday = dt.datetime(2026, 12, 12, 13, 0, tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    assert hours.add(saturday, dt.timedelta(hours=2)) == dt.datetime(2026, 12, 19, 11, 0, tzinfo=dt.UTC)
    assert hours.between(saturday, saturday + dt.timedelta(days=7)) == dt.timedelta(hours=4)
