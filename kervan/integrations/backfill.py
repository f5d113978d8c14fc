"""Backfill: a connection's history pulled through its platform's API, page by page, and polls of platforms
without webhooks (OpenCart's database).

Each page is written by kervan.integrations.sync in one transaction together with the backfill's cursor of the next
page, so a failure (network, rate limit, a worker killed) resumes at the page that failed and nothing is written
twice (sync is idempotent anyway). Rate limits: the platform clients go through kervan.core.http, which waits on
429/Retry-After within a call; what still fails as retryable puts the backfill off with growing waits.
"""

import datetime as dt
import time

from django.db import transaction

from kervan.core import clock, http
from kervan.core.claim import claim_due, extend, held, release
from kervan.core.errors import KervanError
from kervan.integrations import history, sync
from kervan.integrations.canonical import ConsentChange, StoreCustomer, StoreOrder
from kervan.integrations.models import Backfill, Connection
from kervan.integrations.worker import LeaseLost, retry_wait, worker_name

STEP_RECORDS = 5_000  # records read before they are written and the cursor moves (one import job for orders)
MAX_RETRIES = 10  # failures in a row before a backfill stops as failed (it can be resumed from its cursor)
LEASE = dt.timedelta(minutes=2)


def backfills_run(*, budget: float = 50.0, worker: str | None = None) -> int:
    """Run due backfills for up to `budget` seconds; returns the pages written."""
    deadline = time.monotonic() + budget
    written = 0
    for backfill in claim_due(Backfill.objects.filter(connection__status=Connection.Status.ACTIVE),
                              worker=worker or worker_name(), limit=1, lease=LEASE):  # fmt: skip
        if backfill.status == Backfill.Status.QUEUED:
            backfill.started_at = backfill.started_at or clock.now()
            held(backfill).update(status=Backfill.Status.RUNNING, started_at=backfill.started_at)
            backfill.status = Backfill.Status.RUNNING
        while time.monotonic() < deadline:
            outcome = backfill_page(backfill)
            if outcome != "written":
                break
            written += 1
            if not extend(backfill, lease=LEASE):
                break
        else:
            release(backfill, due_at=clock.now())  # more to read: due again at once
    return written


def backfill_page(backfill: Backfill) -> str:
    """Read the next pages (up to STEP_RECORDS records) and write them; "written", "done", "waiting" (put off after
    a failure) or "failed". The cursor moves only once what was read is written."""
    connection = Connection.objects.select_related("source").get(pk=backfill.connection_id)
    platform = connection.platform_impl
    kind = backfill.kind or backfill.kinds[0]
    records: list = []
    cursor, total, pages = backfill.cursor, None, 0
    try:
        while True:
            page = platform.fetch(connection, kind, cursor)
            records += _of_kind(kind, page.records)
            cursor, pages = page.next_cursor, pages + 1
            total = page.total if page.total is not None else total
            if cursor is None or len(records) >= STEP_RECORDS:
                break
    except http.RetryableError as failure:
        return _failed(backfill, str(failure), retryable=True)
    except (http.PermanentError, KervanError) as failure:
        return _failed(backfill, str(failure), retryable=False)
    by_kind = dict(backfill.counts.get(kind, {}))
    by_kind["read"] = by_kind.get("read", 0) + len(records)
    try:
        written = _write(
            connection, kind, records, label=f"{connection.name} {kind} {backfill.pk}-{backfill.pages + 1}"
        )
        with transaction.atomic():
            for what, n in written.items():
                by_kind[what] = by_kind.get(what, 0) + n
            totals = {**backfill.totals, **({kind: total} if total is not None else {})}
            changes = {"counts": {**backfill.counts, kind: by_kind}, "pages": backfill.pages + pages, "retries": 0,
                       "error": "", "totals": totals}  # fmt: skip
            if cursor is not None:
                changes.update(kind=kind, cursor=cursor)
            elif kind != backfill.kinds[-1]:
                changes.update(kind=backfill.kinds[backfill.kinds.index(kind) + 1], cursor=None)
            else:
                changes.update(status=Backfill.Status.DONE, cursor=None, finished_at=clock.now(), due_at=None,
                               leased_by="", leased_until=None, lease_token=None)  # fmt: skip
            if not held(backfill).update(**changes):
                raise LeaseLost
    except LeaseLost:
        return "lost"
    except sync.RetryLater as later:
        return _failed(backfill, str(later), retryable=True)
    except KervanError as refused:
        return _failed(backfill, refused.detail, retryable=False)
    for name, value in changes.items():
        setattr(backfill, name, value)
    return "done" if backfill.status == Backfill.Status.DONE else "written"


def _of_kind(kind: str, records: list) -> list:
    """What a backfill of `kind` writes. An order names its customer and their consent as it was at the order; a
    backfill of orders leaves both to the customers' own backfill, which reads them as they are now (the truth to
    keep), so a history of thousands of orders is not a thousand writes per customer."""
    if kind != "orders":
        return records
    return [r for r in records if not isinstance(r, (StoreCustomer, ConsentChange))]


def _write(connection: Connection, kind: str, records: list, *, label: str) -> dict:
    """Write a step's records: new orders through the history import's bulk path, everything else (and orders
    Kervan already has) through sync. Returns the kind's counts (created, updated, ignored, refused)."""
    orders = [r for r in records if isinstance(r, StoreOrder)]
    counts: dict = {}
    if orders:
        imported = history.orders_import(connection, orders, label=label)
        counts["created"] = imported["created"]
        if imported.get("refused"):
            counts["refused"] = imported["refused"]
        # Orders Kervan already had (a webhook came first): their status and refunds through sync, like a webhook's.
        known = imported["known"]
        records = [r for r in records if not isinstance(r, StoreOrder) or r.external_id in known]
    if records:
        result = sync.apply(connection, records, skip_failures=True)
        for what, n in result.counts.get(kind, {}).items():  # the kind's own counts, not its customers'
            counts[what] = counts.get(what, 0) + n
    return counts


def _failed(backfill: Backfill, reason: str, *, retryable: bool) -> str:
    if retryable and backfill.retries < MAX_RETRIES:
        release(
            backfill,
            due_at=clock.now() + retry_wait(backfill.retries + 1),
            retries=backfill.retries + 1,
            error=reason[:2000],
        )
        return "waiting"
    held(backfill).update(
        status=Backfill.Status.FAILED,
        error=reason[:2000],
        finished_at=clock.now(),
        due_at=None,
        leased_by="",
        leased_until=None,
        lease_token=None,
    )
    return "failed"


def connections_poll() -> int:
    """Read what changed in the platforms without webhooks (OpenCart); returns the records written."""
    written = 0
    for connection in Connection.objects.select_related("source").filter(status=Connection.Status.ACTIVE):
        platform = connection.platform_impl
        if not platform.polls:
            continue
        written += connection_poll(connection)
    return written


def connection_poll(connection: Connection, *, pages: int = 100) -> int:
    written = 0
    for _page in range(pages):
        try:
            page = connection.platform_impl.poll(connection, connection.poll_cursor or {})
        except (http.HttpError, KervanError, OSError) as failure:
            Connection.objects.filter(pk=connection.pk).update(poll_error=str(failure)[:2000])
            return written
        with transaction.atomic():
            sync.apply(connection, page.records, skip_failures=True)
            cursor = page.next_cursor or connection.poll_cursor
            Connection.objects.filter(pk=connection.pk).update(poll_cursor=cursor, polled_at=clock.now(), poll_error="")
            connection.poll_cursor = cursor
        written += len(page.records)
        if not page.records or page.next_cursor is None:
            break
    return written
