"""Web push (RFC 8030) through pywebpush: the payload is encrypted for each browser (RFC 8291, aes128gcm) and the
request signed with the install's VAPID key (RFC 8292), then POSTed to the browser's push service.

One message goes to all of a customer's browsers (Outgoing.to is the JSON list of their subscriptions). It counts
as sent when at least one push service took it. A push service answering 404 or 410 says that subscription is gone
for good (the user revoked permission, the browser dropped it): its row is deleted so it is never tried again.
429 and 5xx, timeouts and connection failures may work later and make the whole message retryable; any other
refusal (400 bad request, 401/403 a VAPID key the subscription was not made with, 413 too large) will not.
"""

import datetime as dt
import json
import re

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from py_vapid import VapidException
from pywebpush import WebPushException, webpush

from kervan.core import clock
from kervan.core.http import parse_retry_after
from kervan.messaging.channels.base import Outgoing, Sent, TransportError
from kervan.messaging.channels.push.vapid import VapidKeys, vapid_keys

GONE_STATUSES = frozenset({404, 410})
# Push services take at most 4096 bytes of encrypted payload (RFC 8030 section 7.2); aes128gcm adds 86 bytes of
# header, tag and padding delimiter. The JSON is kept well under that, shortening the body if it must.
MAX_PAYLOAD_BYTES = 3800
URL = re.compile(r"https?://[^\s<>\"']+")


class _NoRedirects(requests.Session):
    """A push service never redirects; following one would let a crafted endpoint send our POSTs anywhere."""

    def request(self, method, url, *args, **kwargs):
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)


class WebPushTransport:
    channel = "push"

    def __init__(self, vapid_private_key: str = "", subject: str = "", ttl: int = 86400, timeout: float = 10) -> None:
        # Without a configured key the generated one in var/ is used (kervan.messaging.channels.push.vapid).
        self.vapid_private_key = vapid_private_key
        # The contact a push service may write to about our traffic: a mailto: or https: URL.
        self.subject = subject or f"mailto:{settings.DEFAULT_FROM_EMAIL}"
        self.ttl = int(ttl)  # how long a push service keeps a message for a browser that is offline
        self.timeout = float(timeout)
        self._session: requests.Session | None = None

    def __enter__(self) -> "WebPushTransport":
        self._session = _NoRedirects()  # keeps connections to each push service for the batch
        return self

    def __exit__(self, *exc: object) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def send(self, message: Outgoing) -> Sent:
        try:
            subscriptions = json.loads(message.to or "[]")
        except ValueError:
            raise TransportError("push: the recipient's subscriptions are not JSON", permanent=True) from None
        if not isinstance(subscriptions, list) or not subscriptions:
            raise TransportError("push: the customer has no browser subscribed to push", permanent=True)
        keys = self._keys()
        data = payload(message)
        if self._session is None:  # used outside `with`: one session for this message
            with self:
                return self._send_all(subscriptions, data, keys)
        return self._send_all(subscriptions, data, keys)

    def _keys(self) -> VapidKeys:
        try:
            return vapid_keys(self.vapid_private_key or None)
        except (ImproperlyConfigured, OSError) as exc:
            raise TransportError(f"push: no VAPID key: {exc}", permanent=True) from None

    def _send_all(self, subscriptions: list, data: str, keys: VapidKeys) -> Sent:
        delivered: list[str] = []
        gone: list[str] = []
        retry: list[tuple[str, dt.datetime | None]] = []
        refused: list[str] = []
        for subscription in subscriptions:
            endpoint = str(subscription.get("endpoint", "")) if isinstance(subscription, dict) else ""
            try:
                webpush(
                    subscription_info=subscription,
                    data=data,
                    vapid_private_key=keys.vapid,
                    # A fresh dict for every call: pywebpush writes the endpoint's origin into it as "aud", and a
                    # claim made for one push service is refused by the next.
                    vapid_claims={"sub": self.subject},
                    ttl=self.ttl,
                    timeout=self.timeout,
                    requests_session=self._session,
                )
            except WebPushException as exc:
                status = exc.status_code
                if status in GONE_STATUSES:
                    gone.append(endpoint)
                elif status is not None and (status == 429 or status >= 500):
                    seconds = parse_retry_after(exc.retry_after)
                    retry.append((f"HTTP {status}", clock.now() + dt.timedelta(seconds=seconds) if seconds else None))
                else:
                    # No status: pywebpush refused the subscription itself (bad keys); it will not get better.
                    refused.append(f"HTTP {status}" if status is not None else exc.message)
            except requests.RequestException as exc:  # connection refused, timeout, TLS: the service may recover
                retry.append((f"{type(exc).__name__}", None))
            except VapidException as exc:  # the subject is not a mailto:/https: URL: a setting to fix
                raise TransportError(f"push: VAPID claims refused: {exc}", permanent=True) from None
            else:
                delivered.append(endpoint)
        _record(delivered=delivered, gone=gone)
        if delivered:
            return Sent(provider_id="")
        if retry:
            reasons = ", ".join(reason for reason, _ in retry)
            known = [when for _, when in retry if when is not None]
            raise TransportError(
                f"push: try again later ({reasons})", permanent=False, retry_at=max(known, default=None)
            )
        parts = ([f"{len(gone)} subscription(s) gone"] if gone else []) + refused
        raise TransportError(f"push: not delivered ({'; '.join(parts)})", permanent=True, address_rejected=False)


def payload(message: Outgoing) -> str:
    """What the service worker shows: {"title", "body", "url", "tag"}. The first link in the text (the tracked
    click URL) becomes the notification's target and leaves the body, where it would only be noise."""
    text = message.text or ""
    found = URL.search(text)
    url = found.group(0).rstrip(".,;:!?)") if found else ""
    lines = (line.strip() for line in (text.replace(url, " ") if url else text).splitlines())
    body = "\n".join(" ".join(line.split()) for line in lines if line)
    data = {"title": message.subject, "body": body, "url": url, "tag": message.key}
    encoded = json.dumps(data, ensure_ascii=False)
    while len(encoded.encode()) > MAX_PAYLOAD_BYTES and data["body"]:
        # Cut by bytes (Turkish letters take two), at a character boundary, and say that it was cut.
        raw = data["body"].encode()
        keep = len(raw) - (len(encoded.encode()) - MAX_PAYLOAD_BYTES) - len("…".encode())
        data["body"] = raw[:keep].decode(errors="ignore").rstrip() + "…" if keep > 0 else ""
        encoded = json.dumps(data, ensure_ascii=False)
    return encoded


def _record(*, delivered: list[str], gone: list[str]) -> None:
    """Note when each browser last got a message, and delete the subscriptions a push service said are gone (the
    model is imported here: transports are built before the app registry is needed)."""
    from kervan.messaging.models import PushSubscription

    if delivered:
        PushSubscription.objects.filter(endpoint__in=delivered).update(last_sent_at=clock.now())
    if gone:
        PushSubscription.objects.filter(endpoint__in=[e for e in gone if e]).delete()
