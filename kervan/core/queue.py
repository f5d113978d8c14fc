"""Enqueue background work once the transaction that asked for it has committed.

A task enqueued inside a transaction could run before the rows it reads are committed (and see nothing), or after
they were rolled back (and act on nothing). So actions never call `task.enqueue()` themselves; they write, then:

    from kervan.core.queue import enqueue_on_commit

    enqueue_on_commit(import_job_process, job.pk)

Tasks are `@task()` functions of the django-tasks API (Django's tasks framework), defined in an app's tasks.py.
They take ids, never model instances or other objects: the row is read again when the task runs, so the task sees
the committed state, and its arguments survive serialisation to any backend (database or Redis).
"""

from typing import Any

from django.db import transaction
from django_tasks.base import Task

__all__ = ["enqueue_on_commit"]


def enqueue_on_commit(task: Task[..., Any], *ids: int | str, using: str | None = None) -> None:
    """Enqueue `task(*ids)` when the current transaction on database `using` commits (at once outside one);
    a rollback enqueues nothing. Refuses (TypeError, at the call, not at commit) anything but a task and ids."""
    if not isinstance(task, Task):
        raise TypeError(f"enqueue_on_commit() needs a @task() function, not {type(task).__name__}.")
    for value in ids:
        # bool is an int to Python, but never an id.
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError(f"Tasks take ids (int or str), not {type(value).__name__}: pass the row's pk.")
    transaction.on_commit(lambda: task.enqueue(*ids), using=using)
