"""Claim due rows for a worker, so that several workers (threads, processes, machines) share due work safely.

Due work is a row of a model that inherits kervan.core.models.DueWork (a scheduled send, a flow step, an SLA
timer, a webhook retry). A worker loop:

    for send in claim_due(ScheduledSend.objects.filter(channel="sms"), worker=name, limit=50):
        try:
            deliver(send)
        except RetryableError as error:
            release(send, due_at=error.retry_at(default=backoff), last_error=str(error))
        else:
            finish(send, status="sent")   # or held(send).delete()

`claim_due` leases up to `limit` rows whose due time has passed (by kervan.core.clock) and that nobody holds, or
whose holder's lease ran out (a worker that died), to `worker` until now + `lease`. Each claim has its own token:
`finish`, `release` and `extend` write only while the row still carries it (compare-and-set), so a worker that
was too slow and lost the row to another does nothing and learns so (False).

PostgreSQL: the candidates are locked with SELECT … FOR UPDATE SKIP LOCKED, so concurrent workers take different
rows without waiting for each other. SQLite has no row locks: the project's SQLite starts transactions IMMEDIATE
(one writer at a time), and the UPDATE repeats the "due and not leased" condition, a compare-and-set that stays
correct even in a deferred transaction. Call claim_due outside a transaction: the lease is committed at once and
the work runs without holding any lock.
"""

import datetime as dt
import os
import socket
import uuid
from typing import Any, TypeVar

from django.db import connections, router, transaction
from django.db.models import F, Q, QuerySet

from kervan.core import clock
from kervan.core.models import DueWork

__all__ = [
    "DEFAULT_LEASE",
    "claim_due",
    "extend",
    "finish",
    "held",
    "held_all",
    "release",
    "release_all",
    "worker_name",
]

W = TypeVar("W", bound=DueWork)

DEFAULT_LEASE = dt.timedelta(minutes=5)
LEASE_FIELDS = frozenset({"due_at", "leased_by", "leased_until", "lease_token"})
WORKER_NAME_MAX = 100  # DueWork.leased_by's max_length


def worker_name() -> str:
    """This process's name as a lease holder: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"[:WORKER_NAME_MAX]


def claim_due(
    work: QuerySet[W] | type[W], *, worker: str, limit: int = 10, lease: dt.timedelta = DEFAULT_LEASE
) -> list[W]:
    """Lease up to `limit` due rows of `work` (a DueWork model, or a queryset of one to narrow the rows) to
    `worker` until now + `lease`, earliest due first; return them with `attempts` counted. Rows another worker
    holds are skipped, never waited for."""
    if not worker or len(worker) > WORKER_NAME_MAX:
        raise ValueError(f"worker must be a name of 1 to {WORKER_NAME_MAX} characters.")
    if limit < 1:
        raise ValueError("limit must be at least 1.")
    if lease <= dt.timedelta(0):
        raise ValueError("lease must be a positive duration.")
    queryset = work if isinstance(work, QuerySet) else work._default_manager.all()
    db = router.db_for_write(queryset.model)
    now = clock.now()
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)  # never leased, or the holder's lease ran out
    claimable = queryset.using(db).filter(free, due_at__lte=now)
    token = uuid.uuid4()
    with transaction.atomic(using=db):
        candidates = claimable.order_by("due_at", "pk")
        if connections[db].features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        ids = list(candidates.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        claimable.filter(pk__in=ids).update(
            leased_by=worker, leased_until=now + lease, lease_token=token, attempts=F("attempts") + 1
        )
        # By primary key (the lease token has no index: a scan of the whole table at every claim).
        claimed = queryset.model._default_manager.using(db).filter(pk__in=ids, lease_token=token)
        return list(claimed.order_by("due_at", "pk"))


def held(row: W) -> QuerySet[W]:
    """`row` as a queryset that matches only while the claim that returned it still holds the lease: for what
    finish/release do not cover, e.g. `held(row).delete()` when done work leaves no row."""
    if row.lease_token is None:
        raise ValueError("This row holds no lease: claim it with claim_due() first.")
    return type(row)._default_manager.using(row._state.db).filter(pk=row.pk, lease_token=row.lease_token)


def held_all(rows: list[W]) -> QuerySet[W]:
    """`held()` for a batch: those of `rows` whose claim still holds the lease, as one queryset (one statement to
    delete or update them all)."""
    if not rows:
        raise ValueError("No rows: nothing was claimed.")
    if any(row.lease_token is None for row in rows):
        raise ValueError("A row holds no lease: claim it with claim_due() first.")
    model = type(rows[0])
    return model._default_manager.using(rows[0]._state.db).filter(
        pk__in=[row.pk for row in rows], lease_token__in={row.lease_token for row in rows}
    )


def release_all(rows: list[W], *, due_at: dt.datetime) -> int:
    """`release()` for a batch, in one UPDATE: those still held are due again at `due_at`; returns how many."""
    if due_at.tzinfo is None:
        raise ValueError("due_at needs a time zone.")
    return held_all(rows).update(due_at=due_at, leased_by="", leased_until=None, lease_token=None)


def finish(row: W, **changes: Any) -> bool:
    """The work is done: write `changes` (e.g. status="sent"), no longer due, lease given back, in one UPDATE.
    False, writing nothing, if the lease was taken over by another worker."""
    return _write(row, changes, due_at=None)


def release(row: W, *, due_at: dt.datetime | None = None, **changes: Any) -> bool:
    """Give the lease back with `changes`: the row is due again at `due_at` (a retry time, the next step), or at
    its own due time, that is at once, when None. False, writing nothing, if the lease was taken over."""
    if due_at is not None and due_at.tzinfo is None:
        raise ValueError("due_at needs a time zone.")
    return _write(row, changes, due_at=row.due_at if due_at is None else due_at)


def extend(row: W, *, lease: dt.timedelta = DEFAULT_LEASE) -> bool:
    """Keep the lease for `lease` from now, for work that runs longer than its first lease. False if it was
    already taken over: the worker should stop, another one has the row."""
    if lease <= dt.timedelta(0):
        raise ValueError("lease must be a positive duration.")
    leased_until = clock.now() + lease
    if not held(row).update(leased_until=leased_until):
        return False
    row.leased_until = leased_until
    return True


def _write(row: W, changes: dict[str, Any], *, due_at: dt.datetime | None) -> bool:
    refused = LEASE_FIELDS.intersection(changes)
    if refused:
        raise ValueError(f"The lease fields are the claim helper's to write: {', '.join(sorted(refused))}.")
    fields = {**changes, "due_at": due_at, "leased_by": "", "leased_until": None, "lease_token": None}
    if not held(row).update(**fields):
        return False
    computed = [name for name, value in fields.items() if hasattr(value, "resolve_expression")]
    for name, value in fields.items():
        if name not in computed:
            setattr(row, name, value)
    if computed:  # e.g. attempts=F("attempts") - 1: read what the database made of it
        row.refresh_from_db(fields=computed)
    return True
