"""The shared clock: frozen and moved by tests, seen by every thread, followed by the code that reads the time."""

import datetime as dt
import threading
import time

import pytest
from django.utils import timezone

from kervan.core import clock as core_clock
from kervan.core.errors import KervanError

NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def test_now_is_the_real_time_in_utc_when_nobody_froze_it():
    before = dt.datetime.now(dt.UTC)
    now = core_clock.now()
    after = dt.datetime.now(dt.UTC)
    assert now.utcoffset() == dt.timedelta(0)
    assert before <= now <= after
    assert not core_clock.is_frozen()


def test_frozen_stands_still_until_advanced_and_is_restored_after():
    with core_clock.frozen(NOON):
        assert core_clock.now() == NOON
        time.sleep(0.01)
        assert core_clock.now() == NOON
        core_clock.advance(dt.timedelta(minutes=5))
        assert core_clock.now() == NOON + dt.timedelta(minutes=5)
        core_clock.advance(-dt.timedelta(hours=1))
        assert core_clock.now() == NOON - dt.timedelta(minutes=55)
    assert not core_clock.is_frozen()
    assert abs(core_clock.now() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


def test_frozen_shows_any_time_zone_in_utc_and_refuses_a_naive_time():
    istanbul = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    with core_clock.frozen(istanbul):
        assert core_clock.now() == NOON
        assert core_clock.now().tzinfo == dt.UTC
    with pytest.raises(ValueError), core_clock.frozen(dt.datetime(2026, 11, 20, 12, 0)):
        pass
    assert not core_clock.is_frozen()


def test_frozen_without_a_time_stops_the_clock_where_it_is():
    before = dt.datetime.now(dt.UTC)
    with core_clock.frozen():
        stopped = core_clock.now()
        assert before <= stopped <= dt.datetime.now(dt.UTC)
        time.sleep(0.01)
        assert core_clock.now() == stopped


def test_nested_freezes_restore_the_outer_one():
    with core_clock.frozen(NOON):
        core_clock.advance(dt.timedelta(seconds=30))
        with core_clock.frozen(NOON + dt.timedelta(days=10)):
            assert core_clock.now() == NOON + dt.timedelta(days=10)
        assert core_clock.now() == NOON + dt.timedelta(seconds=30)


def test_travel_moves_a_running_clock_that_keeps_running():
    with core_clock.travel(dt.timedelta(days=2)):
        first = core_clock.now()
        expected = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
        assert abs(first - expected) < dt.timedelta(seconds=5)
        time.sleep(0.01)
        assert core_clock.now() > first
        assert not core_clock.is_frozen()
    assert abs(core_clock.now() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


def test_travel_moves_a_frozen_clock_for_the_block_only():
    with core_clock.frozen(NOON):
        with core_clock.travel(-dt.timedelta(hours=3)):
            assert core_clock.now() == NOON - dt.timedelta(hours=3)
        assert core_clock.now() == NOON


def test_advance_refuses_a_running_clock_so_a_move_cannot_outlive_its_test():
    with pytest.raises(RuntimeError):
        core_clock.advance(dt.timedelta(minutes=1))


def test_the_clock_is_restored_when_the_block_raises():
    with pytest.raises(ZeroDivisionError), core_clock.frozen(NOON):
        raise ZeroDivisionError
    assert not core_clock.is_frozen()
    with pytest.raises(ZeroDivisionError), core_clock.travel(dt.timedelta(days=400)):
        raise ZeroDivisionError
    assert abs(core_clock.now() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


def test_localdate_is_today_in_the_current_time_zone():
    late_evening_utc = dt.datetime(2026, 12, 31, 22, 30, tzinfo=dt.UTC)  # already 1 January in Istanbul (UTC+3)
    with core_clock.frozen(late_evening_utc):
        assert core_clock.localdate() == dt.date(2027, 1, 1)
        with timezone.override("UTC"):
            assert core_clock.localdate() == dt.date(2026, 12, 31)
        with timezone.override("America/New_York"):
            assert core_clock.localdate() == dt.date(2026, 12, 31)


def test_sleep_on_a_frozen_clock_moves_it_at_once():
    with core_clock.frozen(NOON):
        started = time.monotonic()
        core_clock.sleep(3600)
        assert time.monotonic() - started < 0.5
        assert core_clock.now() == NOON + dt.timedelta(hours=1)
        core_clock.sleep(0)
        core_clock.sleep(-1)
        assert core_clock.now() == NOON + dt.timedelta(hours=1)


def test_sleep_on_a_running_clock_waits():
    started = time.monotonic()
    core_clock.sleep(0.05)
    assert time.monotonic() - started >= 0.05


def test_a_frozen_clock_is_seen_by_every_thread_as_a_live_server_thread_needs():
    seen: list[dt.datetime] = []
    with core_clock.frozen(NOON):
        thread = threading.Thread(target=lambda: seen.append(core_clock.now()))
        thread.start()
        thread.join(5)
    assert seen == [NOON]


def test_the_fixture_freezes_the_clock_for_the_test(clock):
    assert clock.is_frozen()
    start = clock.now()
    clock.advance(dt.timedelta(days=1))
    assert clock.now() - start == dt.timedelta(days=1)
    with clock.frozen(NOON):
        assert clock.now() == NOON
    assert clock.now() - start == dt.timedelta(days=1)


def test_birth_dates_are_checked_against_the_clock(clock):
    from kervan.imports.values import parse_birth_date

    with clock.frozen(dt.datetime(2040, 6, 1, 9, 0, tzinfo=dt.UTC)):
        assert parse_birth_date("2039-05-01") == dt.date(2039, 5, 1)
    with clock.frozen(dt.datetime(2020, 6, 1, 9, 0, tzinfo=dt.UTC)), pytest.raises(KervanError):
        parse_birth_date("2021-05-01")


@pytest.mark.django_db
def test_an_api_key_is_revoked_at_the_clock_time(clock, admin_actor, make_api_key):
    from kervan.accounts.actions import api_key_revoke

    key, _secret = make_api_key()
    with clock.frozen(NOON):
        api_key_revoke(actor=admin_actor, api_key=key)
    key.refresh_from_db()
    assert key.revoked_at == NOON
