"""Is the process running an import still there? So a job whose worker was killed (out of memory, a deploy, a
reboot) is failed instead of showing "checking" or "saving" for ever.

PostgreSQL: the worker holds a session advisory lock on the job while it runs. The lock goes when the worker's
connection does, however the process ends and on whichever host it ran, so a reader who can take the lock knows
nobody is running the job. SQLite: the database is a file on this machine, so its worker runs here too; the job
records the worker's host name and process id and a reader checks that the process still exists.
"""

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection

# The first key of the two-key advisory locks on import jobs ("KV"); the second is the job's id.
LOCK_SPACE = 0x4B56


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def running(job_id: int) -> Iterator[bool]:
    """Hold the job's lock while the body runs; yields False if another process holds it (is running the job)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_SPACE, job_id])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_SPACE, job_id])
            except DatabaseError:
                pass  # the connection is gone, and the lock went with it


def worker_gone(job_id: int, worker: str) -> bool:
    """True if the process that claimed the job has certainly ended; False if it runs or cannot be seen from here."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_SPACE, job_id])
            if not cursor.fetchone()[0]:
                return False
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_SPACE, job_id])
        return True
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False
