"""What the SMS transports share: the timeout every call has, Basic auth, the E.164 check, and how a failed HTTP call
(kervan.core.http) becomes a TransportError the sender understands."""

import base64
import datetime as dt
import json
import re
from typing import Any

from kervan.core import clock, http
from kervan.messaging.channels.base import TransportError

# E.164: a plus, a country code that never starts with 0, at most 15 digits in all.
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def timeout(seconds: float) -> http.Timeout:
    """A provider's `timeout` setting bounds each read; connecting never takes longer than 5 s (or the setting, if
    shorter), so a provider that does not answer at all costs a worker little."""
    return http.Timeout(connect=min(5.0, float(seconds)), read=float(seconds))


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def check_e164(to: str, provider: str) -> str:
    """The number as given, or a permanent, address-rejecting error: a malformed number never becomes valid by
    waiting, and sending it would only spend a provider call (and, on some, credit)."""
    number = (to or "").strip()
    if not E164.match(number):
        raise TransportError(f"{provider}: {to!r} is not an E.164 phone number", permanent=True, address_rejected=True)
    return number


def json_body(data: bytes | str) -> Any:
    """The answer's JSON, or None when it is not JSON (a proxy's HTML error page, a truncated body)."""
    try:
        return json.loads(data)
    except (TypeError, ValueError):
        return None


def later(seconds: float) -> dt.datetime:
    return clock.now() + dt.timedelta(seconds=seconds)


def from_http_error(error: http.HttpError, provider: str, detail: str = "") -> TransportError:
    """kervan.core.http decided whether trying again can help; keep its verdict. A retryable error carries the
    provider's Retry-After as retry_at; without one, retry_at stays None and the sender's own back-off applies."""
    reason = f"{provider}: {error}" + (f": {detail}" if detail else "")
    if isinstance(error, http.RetryableError):
        retry_at = error.retry_at(default=dt.timedelta(0)) if error.retry_after is not None else None
        return TransportError(reason, permanent=False, retry_at=retry_at)
    return TransportError(reason, permanent=True)
