"""The scheduler enqueues each registered task when it falls due, once, and moves it to its next run."""

import datetime as dt
import zoneinfo

import pytest
from django.core.management import call_command
from django_tasks import task

from kervan.core import schedule
from kervan.core.models import ScheduledJob

pytestmark = pytest.mark.django_db
IST = zoneinfo.ZoneInfo("Europe/Istanbul")
RUNS: list[str] = []


@task()
def remember_run() -> None:
    RUNS.append("ran")


@pytest.fixture
def tick(django_capture_on_commit_callbacks):
    """scheduler_tick, with the tasks it enqueues on commit run (the test's transaction never commits)."""

    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return schedule.scheduler_tick(**kwargs)

    return run


@pytest.fixture
def nightly(monkeypatch):
    """Only a test schedule, daily at 04:00 Istanbul time (the app schedules are set aside)."""
    monkeypatch.setattr(schedule, "_schedules", {})
    schedule.register_schedule("test_nightly", remember_run, every=dt.timedelta(days=1), at=dt.time(4, 0))
    RUNS.clear()
    yield
    RUNS.clear()


def test_a_daily_job_runs_once_a_day_at_its_local_time(nightly, clock, tick):
    with clock.frozen(dt.datetime(2026, 12, 1, 3, 0, tzinfo=IST)):
        assert tick() == []  # the row is made, due at 04:00 today
        assert ScheduledJob.objects.get(name="test_nightly").due_at == dt.datetime(2026, 12, 1, 4, 0, tzinfo=IST)
        clock.advance(dt.timedelta(hours=1, minutes=1))
        assert tick() == ["test_nightly"]
        assert tick() == []  # not twice
        assert RUNS == ["ran"]
        assert ScheduledJob.objects.get(name="test_nightly").due_at == dt.datetime(2026, 12, 2, 4, 0, tzinfo=IST)
        clock.advance(dt.timedelta(days=3))  # a scheduler that was down for days runs the job once, not three times
        assert tick() == ["test_nightly"]
        assert RUNS == ["ran", "ran"]
        assert ScheduledJob.objects.get(name="test_nightly").due_at == dt.datetime(2026, 12, 5, 4, 0, tzinfo=IST)


def test_a_job_leased_by_another_scheduler_is_not_run_again(nightly, clock, tick):
    from kervan.core import claim

    with clock.frozen(dt.datetime(2026, 12, 1, 5, 0, tzinfo=IST)):
        ScheduledJob.objects.create(name="test_nightly", due_at=clock.now() - dt.timedelta(minutes=1))
        assert [j.name for j in claim.claim_due(ScheduledJob, worker="other")] == ["test_nightly"]
        assert tick(worker="me") == []
        assert RUNS == []


def test_the_app_schedules_are_registered():
    assert {"exchange_rates_fetch", "stats_check_sample"} <= set(schedule._schedules)


def test_the_command_runs_one_pass(nightly, clock, capsys, django_capture_on_commit_callbacks):
    with clock.frozen(dt.datetime(2026, 12, 1, 5, 0, tzinfo=IST)), django_capture_on_commit_callbacks(execute=True):
        ScheduledJob.objects.create(name="test_nightly", due_at=clock.now())
        call_command("run_scheduler", "--once")
    assert "enqueued test_nightly" in capsys.readouterr().out and RUNS == ["ran"]
