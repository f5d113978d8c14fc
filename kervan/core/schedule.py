"""Tasks that run on a schedule: the daily exchange rates, the sampled stats check, and later the digest emails.

An app registers a schedule from its AppConfig.ready() (`register_schedule`). `scheduler_tick()` — run in a loop by
`manage.py run_scheduler`, next to the task worker — keeps one ScheduledJob row per schedule, claims the rows that
are due (kervan.core.claim: two schedulers never run one job twice, a dead one's lease is taken over) and enqueues
their task on the task framework, then moves the row to its next run. Time is the core clock's.
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from kervan.core import claim, clock
from kervan.core.models import ScheduledJob
from kervan.core.queue import enqueue_on_commit


@dataclass(frozen=True)
class Schedule:
    name: str
    task: Any  # a django_tasks @task function, called without arguments
    every: dt.timedelta
    at: dt.time | None = None  # with every=1 day: the local time of day (settings.TIME_ZONE) it runs at


_schedules: dict[str, Schedule] = {}


def register_schedule(name: str, task: Any, *, every: dt.timedelta, at: dt.time | None = None) -> None:
    if every <= dt.timedelta(0):
        raise ValueError("every must be a positive duration.")
    _schedules[name] = Schedule(name, task, every, at)


def next_run(schedule: Schedule, after: dt.datetime) -> dt.datetime:
    """The first run strictly after `after`: on the `at` wall-clock time in the shop's time zone, or `every` later."""
    if schedule.at is None:
        return after + schedule.every
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    local = after.astimezone(zone)
    candidate = dt.datetime.combine(local.date(), schedule.at, tzinfo=zone)
    while candidate <= local:
        candidate += schedule.every
    return candidate.astimezone(dt.UTC)


def scheduler_tick(*, worker: str | None = None) -> list[str]:
    """Enqueue every schedule that is due now; returns their names."""
    now = clock.now()
    known = set(ScheduledJob.objects.values_list("name", flat=True))
    for schedule in _schedules.values():
        if schedule.name not in known:
            ScheduledJob.objects.get_or_create(name=schedule.name, defaults={"due_at": next_run(schedule, now)})
    ran = []
    worker = worker or claim.worker_name()
    for job in claim.claim_due(ScheduledJob.objects.filter(name__in=list(_schedules)), worker=worker, limit=50):
        schedule = _schedules[job.name]
        with transaction.atomic():
            if claim.release(job, due_at=next_run(schedule, now)):
                enqueue_on_commit(schedule.task)
                ran.append(job.name)
    return ran
