"""The webhook worker: claim due deliveries (kervan.core.claim), POST each signed body, record the answer.

At least once: a worker that dies after the receiver took a delivery but before recording it leaves the row leased;
when the lease ends another worker sends it again, with the same event id in the body (receivers drop an id they
have seen). Each claim is one try (http.Retry(attempts=1)); the back-off between tries is the row's due time, so a
receiver that is down for hours holds no worker.

- 2xx: delivered. A 3xx is not followed (a webhook URL that moved must be changed by its owner): failed.
- 5xx, 408, 429, timeouts, connection errors: tried again after an exponential back-off with jitter, or after the
  receiver's Retry-After; after MAX_ATTEMPTS tries (about a day) the delivery is dead.
- other 4xx: the receiver refused this request and will refuse it again: failed, not retried.
"""

import datetime as dt
import json
import logging
import random
from collections import defaultdict

from django.db.models import F

from kervan.core import clock, http
from kervan.core.claim import claim_due, extend, finish, release
from kervan.core.signing import signed_headers
from kervan.outbound.models import WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_WAIT = 90.0  # seconds after the first failed try; tripled each time: 1.5 min … 12 h, about 21 h in all
MAX_WAIT = 12 * 3600.0
LEASE = dt.timedelta(minutes=2)  # longer than a call can take (connect 5 s + read 10 s)
TIMEOUT = http.Timeout(connect=5, read=10)
EXCERPT = 500
USER_AGENT = "Kervan-Webhooks/1"


def backoff(attempt: int) -> dt.timedelta:
    """The wait after failed try number `attempt` (1-based): 90 s × 3^(attempt-1), at most 12 hours, ±20 % so that
    deliveries that failed together do not all come back together."""
    step = min(MAX_WAIT, FIRST_WAIT * 3.0 ** (attempt - 1))
    return dt.timedelta(seconds=step * random.uniform(0.8, 1.2))


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()


def deliver_due(*, worker: str, limit: int = 50) -> dict[str, int]:
    """Send up to `limit` due deliveries; returns how many ended how (delivered, failed, retry, dead, held). Each
    row's lease is renewed just before its call, so a slow receiver early in the batch does not let the lease of the
    rows after it run out (and another worker send them too)."""
    claimed = claim_due(WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING), worker=worker,
                        limit=limit, lease=LEASE)  # fmt: skip
    outcome: dict[str, int] = defaultdict(int)
    endpoints = WebhookEndpoint.objects.in_bulk({d.endpoint_id for d in claimed})
    unreachable: dict[int, dt.datetime] = {}
    for delivery in claimed:
        endpoint = endpoints.get(delivery.endpoint_id)
        if endpoint is None or not endpoint.active:
            # Kept for when the endpoint is turned on again (endpoint_update makes them due), not counted as a try.
            finish(delivery, attempts=F("attempts") - 1)
            outcome["held"] += 1
        elif delivery.endpoint_id in unreachable:
            # The endpoint did not answer a moment ago in this batch: this one waits as long, without a try.
            release(delivery, due_at=unreachable[delivery.endpoint_id], attempts=F("attempts") - 1)
            outcome["retry"] += 1
        elif not extend(delivery, lease=LEASE):
            # The batch took longer than this row's lease and another worker has it now: it sends it.
            outcome["lost"] += 1
        else:
            result, retry_at = send(delivery, endpoint)
            if result == "retry" and delivery.last_status_code is None and retry_at is not None:
                unreachable[delivery.endpoint_id] = retry_at
            outcome[result] += 1
    return dict(outcome)


def send(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> tuple[str, dt.datetime | None]:
    """One try of a claimed delivery; records the answer. Returns (outcome, when it is due again if retried)."""
    body = body_of(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Kervan-Event": delivery.event,
        "X-Kervan-Delivery": str(delivery.pk),
        **signed_headers(endpoint.secret, body),
    }
    now = clock.now()
    try:
        response = http.request(
            "POST", endpoint.url, body=body, headers=headers, timeout=TIMEOUT, retry=http.Retry(attempts=1)
        )
    except ValueError as error:  # not an http(s) URL: nothing to try again
        finish(delivery, status=WebhookDelivery.Status.FAILED, last_error=str(error)[:500], last_attempt_at=now,
               last_status_code=None, last_response="")  # fmt: skip
        return "failed", None
    except http.HttpError as error:
        return _failed(delivery, error, now)
    excerpt = response.text[:EXCERPT]
    if response.status >= 300:
        finish(delivery, status=WebhookDelivery.Status.FAILED, last_status_code=response.status, last_response=excerpt,
               last_error=f"HTTP {response.status}: redirects are not followed", last_attempt_at=now)  # fmt: skip
        return "failed", None
    finish(delivery, status=WebhookDelivery.Status.DELIVERED, last_status_code=response.status,
           last_response=excerpt, last_error="", last_attempt_at=now, delivered_at=now)  # fmt: skip
    return "delivered", None


def _failed(delivery: WebhookDelivery, error: http.HttpError, now: dt.datetime) -> tuple[str, dt.datetime | None]:
    record = {
        "last_status_code": error.status,
        "last_response": error.body[:EXCERPT],
        "last_error": str(error)[:500],
        "last_attempt_at": now,
    }
    retryable = isinstance(error, http.RetryableError) or (error.status or 0) >= 500
    if not retryable:
        finish(delivery, status=WebhookDelivery.Status.FAILED, **record)
        return "failed", None
    if delivery.attempts >= MAX_ATTEMPTS:
        finish(delivery, status=WebhookDelivery.Status.DEAD, **record)
        return "dead", None
    retry_at = error.retry_at(default=backoff(delivery.attempts))
    release(delivery, due_at=retry_at, **record)
    return "retry", retry_at
