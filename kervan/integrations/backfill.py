"""Backfill: a connection's history pulled through its platform's API, page by page, and polls of platforms
without webhooks (OpenCart's database).

Each page is written by kervan.integrations.sync in one transaction together with the backfill's cursor of the next
page, so a failure (network, rate limit, a worker killed) resumes at the page that failed and nothing is written
twice (sync is idempotent anyway). Rate limits: the platform clients go through kervan.core.http, which waits on
429/Retry-After within a call; what still fails as retryable puts the backfill off with growing waits.
"""

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field

from django.db import connections as db_connections
from django.db import transaction

from kervan.core import clock, http
from kervan.core.claim import claim_due, extend, held, release, worker_name
from kervan.core.errors import KervanError
from kervan.integrations import history, sync
from kervan.integrations.canonical import ConsentChange, StoreCustomer, StoreOrder
from kervan.integrations.models import Backfill, Connection
from kervan.integrations.worker import LeaseLost, retry_wait

log = logging.getLogger(__name__)

STEP_RECORDS = 5_000  # records read before they are written and the cursor moves (one import job for orders)
MAX_RETRIES = 10  # failures in a row before a backfill stops as failed (it can be resumed from its cursor)
LEASE = dt.timedelta(minutes=2)


def backfills_run(*, budget: float = 50.0, worker: str | None = None) -> int:
    """Run due backfills for up to `budget` seconds; returns the steps written. While a step is written, the next
    one is read (Reader): the platform's API and Kervan's database work at the same time."""
    deadline = time.monotonic() + budget
    written = 0
    for backfill in claim_due(Backfill.objects.filter(connection__status=Connection.Status.ACTIVE),
                              worker=worker or worker_name(), limit=1, lease=LEASE):  # fmt: skip
        if backfill.status == Backfill.Status.QUEUED:
            backfill.started_at = backfill.started_at or clock.now()
            held(backfill).update(status=Backfill.Status.RUNNING, started_at=backfill.started_at)
            backfill.status = Backfill.Status.RUNNING
        reader = Reader(ahead=True)
        try:
            while time.monotonic() < deadline:
                outcome = backfill_page(backfill, reader)
                if outcome != "written":
                    break
                written += 1
                if not extend(backfill, lease=LEASE):
                    break
            else:
                release(backfill, due_at=clock.now())  # more to read: due again at once
        finally:
            reader.discard()
    return written


@dataclass
class Read:
    """What one step read: its records from `start`, the cursor after them, or the failure that stopped it."""

    kind: str
    start: dict | None
    records: list = field(default_factory=list)
    cursor: dict | None = None
    total: int | None = None
    pages: int = 0
    error: Exception | None = None


class Reader:
    """Reads a step's pages (up to STEP_RECORDS records); with `ahead`, reads the next step in a thread while the
    caller writes this one. A read ahead is used only if the backfill goes on from where it ended (the write went
    through); otherwise it is dropped and the step read again. Platforms' fetch never touches Kervan's database."""

    def __init__(self, *, ahead: bool = False) -> None:
        self.ahead = ahead
        self.pending: tuple[threading.Thread, Read] | None = None

    def read(self, connection: Connection, kind: str, start: dict | None) -> Read:
        if self.pending is not None:
            thread, read = self.pending
            self.pending = None
            thread.join()
            if (read.kind, read.start) == (kind, start):
                return read
        return _read(connection, kind, start)

    def read_next(self, connection: Connection, kind: str, start: dict | None) -> None:
        if not self.ahead or start is None:
            return
        read = Read(kind=kind, start=start)
        thread = threading.Thread(target=_read, args=(connection, kind, start, read), daemon=True)
        thread.start()
        self.pending = (thread, read)

    def discard(self) -> None:
        if self.pending is not None:
            self.pending[0].join()
            self.pending = None


def _read(connection: Connection, kind: str, start: dict | None, read: Read | None = None) -> Read:
    read = read or Read(kind=kind, start=start)
    platform = connection.platform_impl
    cursor = start
    try:
        while True:
            page = platform.fetch(connection, kind, cursor)
            read.records += _of_kind(kind, page.records)
            cursor, read.pages = page.next_cursor, read.pages + 1
            read.total = page.total if page.total is not None else read.total
            if cursor is None or len(read.records) >= STEP_RECORDS:
                break
    except (http.HttpError, KervanError) as failure:
        read.error = failure
    except Exception as failure:  # a page the mapping cannot read (UnexpectedPayload), or a bug: the backfill stops
        log.exception("integrations: backfill read of %s failed", kind)  # with the reason, for an Admin to see
        read.error = failure
    finally:
        if threading.current_thread() is not threading.main_thread():
            db_connections.close_all()  # a thread that opened a database connection gives it back
    read.cursor = cursor
    return read


def backfill_page(backfill: Backfill, reader: Reader | None = None) -> str:
    """Read the next pages (up to STEP_RECORDS records) and write them; "written", "done", "waiting" (put off after
    a failure) or "failed". The cursor moves only once what was read is written."""
    connection = Connection.objects.select_related("source").get(pk=backfill.connection_id)
    kind = backfill.kind or backfill.kinds[0]
    reader = reader or Reader()
    read = reader.read(connection, kind, backfill.cursor)
    if isinstance(read.error, http.RetryableError):
        return _failed(backfill, str(read.error), retryable=True)
    if read.error is not None:
        return _failed(backfill, str(read.error), retryable=False)
    records, cursor, total, pages = read.records, read.cursor, read.total, read.pages
    reader.read_next(connection, kind, cursor)
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
