"""Backfilled orders through the history import's bulk path (kervan.imports): a backfill step's new orders are
written as one file in a fixed layout and imported like a shop's export — the same customer matching (the store's id
for this connection's Source, then email, then phone; guests get a profile of their own), the same statuses,
refunds, rates, stats and events, in one bulk transaction. One import job per step (a few thousand orders), listed
with the shop's other imports.

Orders Kervan already has (a webhook came first) are not in the file: they go through kervan.integrations.sync
like a webhook's, which moves their status forward and adds their refunds.
"""

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.imports.actions import import_job_run, import_job_start, import_job_upload
from kervan.imports.models import ImportKind, ImportStatus
from kervan.integrations import canonical as c
from kervan.integrations.models import Connection, SyncState
from kervan.orders.models import Order, OrderStatus

# The file's columns, each the import field of the same name; order_number holds the store's id (the external id).
COLUMNS = (
    "order_number", "order_name", "placed_at", "status", "currency", "customer_id", "email", "phone", "first_name",
    "last_name", "city", "country", "shipping_total", "total", "paid_at", "cancelled_at", "sales_channel",
    "discount_codes", "utm_source", "utm_medium", "utm_campaign", "carrier", "tracking_number", "refund_items",
    "sku", "title", "quantity", "unit_price", "line_discount", "line_tax",
)  # fmt: skip
OPTIONS = {
    "statuses": {status: status for status in OrderStatus.values},
    "decimal": ".",
    "date_order": "dmy",  # unused: every date is ISO 8601 (a four-digit year first is always read as such)
    "time_zone": "UTC",
}


def _when(value) -> str:
    return value.isoformat() if value else ""


def _cell(text: str) -> str:
    return text.replace("|", " ").replace(";", " ")


def _rows(order: c.StoreOrder):
    person = order.customer
    refunds = ";".join(
        f"amount:{r.amount}|reason:{_cell(r.reason)[:200]}|date:{_when(r.occurred_at)}|id:{_cell(r.external_id)}"
        for r in order.refunds
    )
    head = [
        order.external_id, order.number, _when(order.placed_at), order.status, order.currency, person.external_id,
        person.email, person.phone, person.first_name, person.last_name, person.city, person.country,
        order.shipping_total, "" if order.total is None else order.total, _when(order.paid_at),
        _when(order.cancelled_at), order.sales_channel, ", ".join(order.discount_codes), order.utm_source,
        order.utm_medium, order.utm_campaign, order.carrier, order.tracking_number, refunds,
    ]  # fmt: skip
    for line in order.lines:
        yield [*head, line.sku, line.title, line.quantity, line.unit_price, line.discount, line.tax]


def orders_import(connection: Connection, orders: list[c.StoreOrder], *, label: str) -> dict:
    """Import `orders` not yet in Kervan. Returns {"created", "refused", "job", "known"}: "known" the external ids
    of the orders Kervan already had, left for the caller to update."""
    known = set(
        Order.objects.filter(source=connection.source, external_id__in=[o.external_id for o in orders]).values_list(
            "external_id", flat=True
        )
    )
    new = [o for o in orders if o.external_id not in known and o.lines]
    if not new:
        return {"created": 0, "known": known}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for order in new:
        writer.writerows(_rows(order))
    upload = SimpleUploadedFile(f"{label}.csv", buffer.getvalue().encode(), content_type="text/csv")
    actor = Actor.system()
    job = import_job_upload(actor=actor, kind=ImportKind.ORDERS, upload=upload, source=connection.source)
    job = import_job_start(
        actor=actor, job=job, mapping={column: column for column in COLUMNS}, options=OPTIONS, enqueue=False
    )
    job = import_job_run(job_id=job.pk)
    if job is None or job.status != ImportStatus.DONE:
        reason = job.failure if job is not None else ""
        raise KervanError(_("The history import failed: %(reason)s") % {"reason": reason}, "backfill_import_failed")
    # Later webhooks of these orders compare their update time with the backfill's (kervan.integrations.sync).
    SyncState.objects.bulk_create(
        [SyncState(connection=connection, kind="order", external_id=o.external_id, updated_at=o.updated_at)
         for o in new if o.updated_at],
        ignore_conflicts=True,
    )  # fmt: skip
    summary = job.summary or {}
    return {"created": summary.get("orders", 0), "refused": job.error_count, "job": job.pk, "known": known}
