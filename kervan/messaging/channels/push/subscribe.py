"""The public endpoints of the storefront's subscribe prompt (static/messaging/push.js): the VAPID public key, and
saving or removing a browser's push subscription.

Like the tracker's /events/collect they are called from the shop's pages, so they take the tracker site's
publishable key, answer CORS only for its allowed origins (kervan.events.views), accept any content type (text/plain
keeps the request "simple": no preflight), answer JSON {"detail", "code"} on every refusal and are rate-limited.

A browser's word is all there is here, so it is believed only as far as it cannot hurt someone else:
- the customer is never named by the browser; the subscription joins the customer the visitor id (the tracker's
  anonymous id) already belongs to, if any: the same trust the tracker gives that id;
- the endpoint must be an https URL of a known push service (settings.KERVAN_PUSH_ENDPOINT_HOSTS), because Kervan
  will POST to it: anything else would let a page make the server call addresses of the attacker's choosing;
- the keys must be a real P-256 point and a 16-byte secret, so a subscription that can never be encrypted for is
  refused now rather than failing every send.
"""

import binascii
import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

import pydantic
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from kervan.accounts import throttle
from kervan.accounts.actors import Actor
from kervan.accounts.api_auth import client_ip
from kervan.core import clock
from kervan.core.errors import (
    DATABASE_RETRY_AFTER_SECONDS,
    DATABASE_UNAVAILABLE_DETAIL,
    DATABASE_UNAVAILABLE_ERRORS,
    KervanError,
)
from kervan.core.web import allow_origin, json_error, parse_json
from kervan.customers.consent import consent_record
from kervan.customers.identity import identities_lookup
from kervan.customers.models import ConsentRecord, Customer, Identity
from kervan.events import selectors
from kervan.events import views as tracker
from kervan.messaging import actions
from kervan.messaging.channels.push.vapid import b64url, b64url_decode, vapid_keys
from kervan.messaging.models import PushSubscription

MAX_BODY = 8 * 1024  # a subscription is about 500 bytes
# The push services of the browsers people use (Chrome, Edge, Opera, Samsung Internet on FCM; Firefox; Safari;
# Windows). A host matches itself and its subdomains. An empty list allows any https host with a DNS name.
DEFAULT_ENDPOINT_HOSTS = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "push.services.mozilla.com",
    "push.apple.com",
    "notify.windows.com",
)


# No control characters anywhere (PostgreSQL refuses NUL in text: a 500 instead of a 400).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


class _In(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True)


class KeysIn(pydantic.BaseModel):
    p256dh: str = pydantic.Field(min_length=1, max_length=200, pattern=PRINTABLE)
    auth: str = pydantic.Field(min_length=1, max_length=100, pattern=PRINTABLE)


class SubscriptionIn(pydantic.BaseModel):
    # PushSubscription.toJSON() as the browser gives it; its other members (expirationTime) are not needed.
    endpoint: str = pydantic.Field(min_length=1, max_length=1000, pattern=PRINTABLE)
    keys: KeysIn


class SubscribeIn(_In):
    key: str = pydantic.Field(max_length=40, pattern=PRINTABLE)
    subscription: SubscriptionIn
    anonymous_id: str = pydantic.Field("", max_length=64, pattern=PRINTABLE)


class UnsubscribeIn(_In):
    key: str = pydantic.Field(max_length=40, pattern=PRINTABLE)
    endpoint: str = pydantic.Field(min_length=1, max_length=1000, pattern=PRINTABLE)


@csrf_exempt
def public_key(request: HttpRequest) -> HttpResponse:
    """GET ?key=<site key> → {"publicKey": base64url}: the browser's applicationServerKey."""

    def answer(request: HttpRequest, origin: str | None) -> HttpResponse:
        _site(request, request.GET.get("key", ""), origin)
        try:
            keys = vapid_keys()
        except (ImproperlyConfigured, OSError):
            raise KervanError(_("Web push is not set up on this Kervan."), "push_unavailable", status=503)
        return JsonResponse({"publicKey": keys.public_key})

    return _endpoint(request, ("GET", "HEAD"), answer)


@csrf_exempt
def subscribe(request: HttpRequest) -> HttpResponse:
    """POST {"key", "subscription": {"endpoint", "keys": {"p256dh", "auth"}}, "anonymous_id"?}: save the browser's
    subscription (the same endpoint again updates it). 201 when new, 200 when updated: {"subscribed": true}."""

    def answer(request: HttpRequest, origin: str | None) -> HttpResponse:
        data = parse_json(SubscribeIn, _body(request))
        _site(request, data.key, origin)
        endpoint = check_endpoint(data.subscription.endpoint)
        p256dh, auth = check_keys(data.subscription.keys.p256dh, data.subscription.keys.auth)
        created = actions.push_subscribe(
            endpoint=endpoint,
            p256dh=p256dh,
            auth=auth,
            user_agent=request.headers.get("User-Agent", ""),
            anonymous_id=data.anonymous_id or "",
            customer_id=_customer_of(data.anonymous_id) if data.anonymous_id else None,
        )
        return JsonResponse({"subscribed": True}, status=201 if created else 200)

    return _endpoint(request, ("POST",), answer)


@csrf_exempt
def unsubscribe(request: HttpRequest) -> HttpResponse:
    """POST {"key", "endpoint"}: forget the browser's subscription. {"unsubscribed": whether there was one}."""

    def answer(request: HttpRequest, origin: str | None) -> HttpResponse:
        data = parse_json(UnsubscribeIn, _body(request))
        _site(request, data.key, origin)
        return JsonResponse({"unsubscribed": actions.push_unsubscribe(endpoint=data.endpoint)})

    return _endpoint(request, ("POST",), answer)


def attach_visitor(*, anonymous_id: str, customer_id: int) -> int:
    """Give a visitor's unattached subscriptions to the customer they have just been identified as; returns how
    many. Registered with kervan.events.identified, so it runs inside every identify that names a visitor id: with
    nothing waiting it is one query.

    The visitor accepted our prompt and the browser's before anyone knew who they were: like a known visitor's
    subscription (actions.push_subscribe), that is the customer's consent to marketing push, written to the ledger
    as of when the browser last subscribed, so a refusal the customer gave since still wins."""
    if not anonymous_id:
        return 0
    waiting = PushSubscription.objects.filter(anonymous_id=anonymous_id, customer__isnull=True)
    last_subscribed = waiting.aggregate(at=Max("updated_at"))["at"]
    if last_subscribed is None:
        return 0
    moved = waiting.update(customer_id=customer_id)
    customer = Customer.objects.filter(pk=customer_id).first()
    if moved and customer is not None and customer.consent_push != ConsentRecord.Status.GRANTED:
        consent_record(
            actor=Actor.system(),
            customer=customer,
            channel="push",
            status=ConsentRecord.Status.GRANTED,
            source="browser push subscription",
            iys_source=ConsentRecord.IysSource.WEB,
            occurred_at=min(last_subscribed, clock.now()),
        )
    return moved


def endpoint_hosts() -> tuple[str, ...]:
    hosts = getattr(settings, "KERVAN_PUSH_ENDPOINT_HOSTS", DEFAULT_ENDPOINT_HOSTS)
    return tuple(h.lower().strip(".") for h in hosts or ())


def check_endpoint(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    refused = KervanError(
        _("subscription.endpoint: not the https URL of a browser's push service."),
        "invalid_endpoint",
        field="subscription.endpoint",
    )
    if parts.scheme != "https" or not host or parts.username is not None or parts.password is not None:
        raise refused
    allowed = endpoint_hosts()
    if allowed:
        if not any(host == h or host.endswith("." + h) for h in allowed):
            raise refused
    elif _is_ip(host) or "." not in host or host.endswith((".localhost", ".local", ".internal", ".lan")):
        raise refused
    return url


def check_keys(p256dh: str, auth: str) -> tuple[str, str]:
    """The keys in unpadded base64url, or 400: p256dh must be an uncompressed P-256 point, auth 16 bytes."""
    try:
        point = b64url_decode(p256dh)
        if len(point) != 65 or point[0] != 4:
            raise ValueError("not an uncompressed point")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except (ValueError, binascii.Error):
        raise KervanError(
            _("subscription.keys.p256dh: not a P-256 public key."), "invalid_keys", field="subscription.keys.p256dh"
        )
    try:
        secret = b64url_decode(auth)
    except (ValueError, binascii.Error):
        secret = b""
    if len(secret) != 16:
        raise KervanError(
            _("subscription.keys.auth: must be 16 bytes in base64url."), "invalid_keys", field="subscription.keys.auth"
        )
    return b64url(point), b64url(secret)


def _endpoint(request: HttpRequest, methods: tuple[str, ...], answer: Callable) -> HttpResponse:
    """What the three endpoints share with the tracker's: preflight, method, rate limit, JSON errors, CORS."""
    origin = request.headers.get("Origin")
    if request.method == "OPTIONS":
        return tracker.preflight(request, origin)
    if request.method not in methods:
        response = json_error(405, _("Use %(method)s.") % {"method": methods[0]}, "method_not_allowed")
        return allow_origin(response, origin)
    try:
        throttle.check(
            f"push:requests:{throttle.hashed(client_ip(request))}",
            throttle.Limit(getattr(settings, "KERVAN_TRACKER_RATE_LIMIT", 600), 60),
            detail=_("Too many requests from this address; try again later."),
            code="rate_limited",
        )
        response = answer(request, origin)
    except KervanError as exc:
        response = json_error(exc.status, exc.detail, exc.code, field=exc.field)
        if getattr(exc, "retry_after", None):
            response["Retry-After"] = str(exc.retry_after)
    except DATABASE_UNAVAILABLE_ERRORS:
        response = json_error(503, str(DATABASE_UNAVAILABLE_DETAIL), "database_unavailable")
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return allow_origin(response, origin)


def _site(request: HttpRequest, key: str, origin: str | None):
    site = selectors.tracker_site_for_key(key) if key else None
    if site is None:
        raise KervanError(_("Unknown or disabled site key."), "invalid_site_key", status=403, field="key")
    if origin is not None and not tracker.origin_allowed(request, origin, site.allowed_origins):
        raise KervanError(
            _("%(origin)s may not use this site key.") % {"origin": origin}, "origin_not_allowed", status=403
        )
    return site


def _body(request: HttpRequest) -> bytes:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    body = b"" if declared > MAX_BODY else request.body
    if declared > MAX_BODY or len(body) > MAX_BODY:
        raise KervanError(_("The request body is too large."), "request_too_large", status=413)
    return body


def _customer_of(anonymous_id: str) -> int | None:
    """The customer the tracker has joined this visitor id to (merged profiles followed), or None."""
    return identities_lookup(Identity.Kind.ANONYMOUS, [anonymous_id]).get(anonymous_id)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
