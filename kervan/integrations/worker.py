"""Processing stored webhook deliveries, and running backfills and polls: the integrations' due work.

A delivery is claimed (kervan.core.claim), read by its platform into canonical records, and written by
kervan.integrations.sync in one transaction together with the delivery's own "done": a worker that dies in between
leaves the delivery to be taken over, and the records, applied again, change nothing (sync is idempotent).
What fails: a payload the platform's mapping cannot read, or a record Kervan refuses, is dead at once (retrying
would fail the same way): it waits in the dead-letter list for an Admin. What may work later (an order not yet
arrived, a database hiccup) is retried with growing waits, and dead after MAX_ATTEMPTS.
"""

import datetime as dt
import logging
import random

import orjson
from django.db import DatabaseError, transaction
from django.utils.translation import gettext as _

from kervan.core import clock, http
from kervan.core.claim import claim_due, finish, release, worker_name
from kervan.core.errors import KervanError
from kervan.integrations import sync
from kervan.integrations.models import Connection, Delivery
from kervan.integrations.platforms.base import UnexpectedPayload

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # about a day of retries: 1, 2, 4 … 64 minutes, then 2 h, 4 h
BATCH = 100


class LeaseLost(Exception):
    """Another worker took the delivery over while this one worked: its writes are rolled back."""


def retry_wait(attempts: int) -> dt.timedelta:
    minutes = min(2 ** max(attempts - 1, 0), 240)
    return dt.timedelta(minutes=minutes * random.uniform(0.8, 1.2))


def deliveries_process(*, limit: int = BATCH, worker: str | None = None) -> int:
    """Process up to `limit` due deliveries of active connections; returns how many were taken."""
    rows = claim_due(
        Delivery.objects.filter(connection__status=Connection.Status.ACTIVE),
        worker=worker or worker_name(),
        limit=limit,
    )
    for delivery in rows:
        delivery_process(delivery)
    return len(rows)


def delivery_process(delivery: Delivery) -> None:
    connection = Connection.objects.select_related("source").get(pk=delivery.connection_id)
    platform = connection.platform_impl
    try:
        payload = orjson.loads(delivery.body)
        records = platform.records(connection, delivery.topic, payload)
    except (UnexpectedPayload, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as unreadable:
        _dead(delivery, _("The payload could not be read: %(reason)s") % {"reason": unreadable})
        return
    # A mapping that asks the platform's API for what the webhook leaves out (iyzico's amount, Stripe's refunds):
    # the API being down is retried like a missing order; a refusal is dead, for an Admin to see.
    except http.RetryableError as failure:
        _retry(delivery, str(failure))
        return
    except http.PermanentError as failure:
        _dead(delivery, str(failure))
        return
    if not records:
        finish(delivery, status=Delivery.Status.IGNORED, processed_at=clock.now(), error="")
        return
    try:
        with transaction.atomic():
            result = sync.apply(connection, records)
            if not finish(
                delivery, status=Delivery.Status.DONE, processed_at=clock.now(), error="", result=result.as_dict()
            ):
                raise LeaseLost
    except LeaseLost:
        return
    except KervanError as refused:
        _dead(delivery, refused.detail)
    except sync.RetryLater as later:
        _retry(delivery, str(later))
    except DatabaseError as failure:
        _retry(delivery, _("Database error: %(error)s") % {"error": failure})
    except Exception as failure:  # a bug in a mapping must not stop the queue: the delivery waits for an Admin
        log.exception("integrations: delivery %s failed", delivery.pk)
        _dead(delivery, f"{type(failure).__name__}: {failure}")


def _retry(delivery: Delivery, reason: str) -> None:
    if delivery.attempts >= MAX_ATTEMPTS:
        _dead(delivery, reason)
        return
    release(delivery, due_at=clock.now() + retry_wait(delivery.attempts), status=Delivery.Status.RETRYING, error=reason)


def _dead(delivery: Delivery, reason: str) -> None:
    finish(delivery, status=Delivery.Status.DEAD, processed_at=clock.now(), error=reason[:5000])
