"""The storefront's push endpoints (kervan.messaging.channels.push.subscribe): the VAPID public key, subscribe
(upsert by endpoint, joined to the customer the visitor id belongs to) and unsubscribe; the tracker site's key and
origins, CORS, and bad input refused with 400 and nothing written."""

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.urls import path

from kervan.accounts.actors import Actor
from kervan.customers.actions import customer_create
from kervan.customers.models import Identity
from kervan.events.actions import tracker_site_default, tracker_site_update
from kervan.messaging.channels.push import subscribe as views
from kervan.messaging.channels.push import vapid
from kervan.messaging.models import PushSubscription

# The paths the lead wires under /m/ (kervan/messaging/urls.py); here on their own so the tests need no wiring.
urlpatterns = [
    path("m/push/key", views.public_key, name="push-key"),
    path("m/push/subscribe", views.subscribe, name="push-subscribe"),
    path("m/push/unsubscribe", views.unsubscribe, name="push-unsubscribe"),
]
pytestmark = pytest.mark.urls(__name__)

SHOP = "https://shop.example.com"
FCM = "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91bH"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def keys() -> dict:
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {"p256dh": b64(point), "auth": b64(os.urandom(16))}


@pytest.fixture
def site(db):
    site = tracker_site_default(actor=Actor.system())
    return tracker_site_update(actor=Actor.system(), site=site, allowed_origins=[SHOP])


@pytest.fixture(autouse=True)
def _own_key(settings, tmp_path):
    settings.BASE_DIR = tmp_path  # the generated VAPID key goes to a temporary var/, not the checkout's
    settings.KERVAN_PUSH = {}


def post(client, url, body, origin=SHOP):
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    extra = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(url, raw, content_type="text/plain", HTTP_USER_AGENT="Firefox/140", **extra)


def subscription(endpoint=FCM, **overrides) -> dict:
    return {"endpoint": endpoint, "expirationTime": None, "keys": {**keys(), **overrides}}


def test_the_public_key_is_the_installs_vapid_key(client, site):
    response = client.get(f"/m/push/key?key={site.public_key}", HTTP_ORIGIN=SHOP)
    assert response.status_code == 200
    assert response.json() == {"publicKey": vapid.vapid_keys().public_key}
    assert response["Access-Control-Allow-Origin"] == SHOP
    refused = client.get("/m/push/key?key=pk_nope", HTTP_ORIGIN=SHOP)
    assert refused.status_code == 403 and refused.json()["code"] == "invalid_site_key"
    foreign = client.get(f"/m/push/key?key={site.public_key}", HTTP_ORIGIN="https://evil.example")
    assert foreign.status_code == 403 and foreign.json()["code"] == "origin_not_allowed"
    assert foreign["Access-Control-Allow-Origin"] == "https://evil.example"  # so the page can read the refusal


def test_subscribe_saves_the_browser_then_updates_it(client, site):
    first = subscription()
    response = post(client, "/m/push/subscribe", {"key": site.public_key, "subscription": first})
    assert response.status_code == 201, response.json()
    assert response.json() == {"subscribed": True}
    assert response["Access-Control-Allow-Origin"] == SHOP
    row = PushSubscription.objects.get()
    assert (row.endpoint, row.p256dh, row.auth) == (FCM, first["keys"]["p256dh"], first["keys"]["auth"])
    assert (row.customer_id, row.anonymous_id, row.user_agent) == (None, "", "Firefox/140")

    again = subscription()  # the browser's keys changed (pushsubscriptionchange): same endpoint, one row
    response = post(client, "/m/push/subscribe", {"key": site.public_key, "subscription": again})
    assert response.status_code == 200
    row = PushSubscription.objects.get()
    assert row.p256dh == again["keys"]["p256dh"]


def test_a_known_visitor_subscribes_for_their_customer(client, site):
    zeynep = customer_create(actor=Actor.system(), first_name="Zeynep", email="zeynep@example.com")
    Identity.objects.create(customer=zeynep, kind=Identity.Kind.ANONYMOUS, value="visitor-1")
    body = {"key": site.public_key, "subscription": subscription(), "anonymous_id": "visitor-1"}
    assert post(client, "/m/push/subscribe", body).status_code == 201
    row = PushSubscription.objects.get()
    assert (row.customer_id, row.anonymous_id) == (zeynep.pk, "visitor-1")
    # She accepted the prompt and the browser's: consent to marketing push, in the ledger with where it came from.
    zeynep.refresh_from_db()
    assert zeynep.consent_push == "granted"
    assert zeynep.consents.get(channel="push").source == "browser push subscription"

    # Another visitor on the same browser: the subscription leaves Zeynep.
    body["anonymous_id"] = "visitor-2"
    assert post(client, "/m/push/subscribe", body).status_code == 200
    row.refresh_from_db()
    assert (row.customer_id, row.anonymous_id) == (None, "visitor-2")

    # …until that visitor is identified as someone: the tracker's identify hands it over.
    assert views.attach_visitor(anonymous_id="visitor-2", customer_id=zeynep.pk) == 1
    row.refresh_from_db()
    assert row.customer_id == zeynep.pk

    # Her last browser unsubscribes: no more push consent.
    post(client, "/m/push/unsubscribe", {"key": site.public_key, "endpoint": FCM})
    zeynep.refresh_from_db()
    assert zeynep.consent_push == "refused"


BAD = [
    ("{not json", "malformed_request", None),
    ({"subscription": {"endpoint": FCM}}, "validation_error", "subscription.keys"),
    ({"subscription": {"endpoint": FCM, "keys": {"p256dh": "x"}}}, "validation_error", "subscription.keys.auth"),
    ({"subscription": subscription(), "customer_id": 1}, "validation_error", "customer_id"),
    (
        {"subscription": subscription("http://fcm.googleapis.com/fcm/send/x")},
        "invalid_endpoint",
        "subscription.endpoint",
    ),
    ({"subscription": subscription("https://127.0.0.1:8000/push")}, "invalid_endpoint", "subscription.endpoint"),
    ({"subscription": subscription("https://169.254.169.254/latest")}, "invalid_endpoint", "subscription.endpoint"),
    ({"subscription": subscription("https://push.evil.example/x")}, "invalid_endpoint", "subscription.endpoint"),
    (
        {"subscription": subscription("https://user:pw@fcm.googleapis.com/x")},
        "invalid_endpoint",
        "subscription.endpoint",
    ),
    ({"subscription": subscription(p256dh=b64(os.urandom(65)))}, "invalid_keys", "subscription.keys.p256dh"),
    ({"subscription": subscription(p256dh="!!!")}, "invalid_keys", "subscription.keys.p256dh"),
    ({"subscription": subscription(auth=b64(os.urandom(8)))}, "invalid_keys", "subscription.keys.auth"),
    ({"subscription": subscription(), "anonymous_id": "v" * 65}, "validation_error", "anonymous_id"),
    ({"subscription": subscription(), "anonymous_id": "v\x00"}, "validation_error", "anonymous_id"),
    ({"subscription": subscription(FCM + "\x00")}, "validation_error", "subscription.endpoint"),
]


@pytest.mark.parametrize(("body", "code", "field"), BAD)
def test_bad_input_is_refused_and_nothing_is_written(client, site, body, code, field):
    if isinstance(body, dict):
        body = {"key": site.public_key, **body}
    response = post(client, "/m/push/subscribe", body)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == code
    assert response.json().get("field") == field
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert not PushSubscription.objects.exists()


def test_subscribe_needs_the_site_key_an_allowed_origin_and_post(client, site):
    body = {"key": site.public_key, "subscription": subscription()}
    assert post(client, "/m/push/subscribe", {**body, "key": "pk_nope"}).status_code == 403
    missing = post(client, "/m/push/subscribe", {"subscription": body["subscription"]})
    assert missing.status_code == 400 and missing.json()["field"] == "key"
    assert post(client, "/m/push/subscribe", body, origin="https://evil.example").status_code == 403
    assert client.get("/m/push/subscribe").status_code == 405
    big = {**body, "pad": "x" * 10_000}
    assert post(client, "/m/push/subscribe", big).status_code == 413
    assert not PushSubscription.objects.exists()
    assert post(client, "/m/push/subscribe", body, origin=None).status_code == 201  # same-site or server call


def test_a_preflight_is_answered_for_the_sites_origins(client, site):
    response = client.options("/m/push/subscribe", HTTP_ORIGIN=SHOP, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in response["Access-Control-Allow-Methods"]


def test_unsubscribe_forgets_the_browser(client, site):
    post(client, "/m/push/subscribe", {"key": site.public_key, "subscription": subscription()})
    response = post(client, "/m/push/unsubscribe", {"key": site.public_key, "endpoint": FCM})
    assert response.status_code == 200 and response.json() == {"unsubscribed": True}
    assert not PushSubscription.objects.exists()
    again = post(client, "/m/push/unsubscribe", {"key": site.public_key, "endpoint": FCM})
    assert again.json() == {"unsubscribed": False}
    bad = post(client, "/m/push/unsubscribe", {"key": site.public_key})
    assert bad.status_code == 400 and bad.json()["field"] == "endpoint"


def test_too_many_requests_from_one_address_are_refused(client, site, settings):
    settings.KERVAN_TRACKER_RATE_LIMIT = 2
    url = f"/m/push/key?key={site.public_key}"
    assert [client.get(url).status_code for _ in range(3)] == [200, 200, 429]
