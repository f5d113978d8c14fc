"""The Segment tracking API (/v1/…): mapping to Kervan's events and identities, the wire details, and bad input."""

import base64
import datetime as dt
import gzip
import json
import uuid

import pytest
from django.core.cache import cache

from kervan.accounts.actors import Actor
from kervan.customers.models import Customer, Identity
from kervan.events.actions import tracker_site_default, tracker_site_update
from kervan.events.models import Event
from kervan.events.segment_views import forget_source, recent_key_for, recent_messages

SHOP = "https://shop.example.com"


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()
    forget_source()  # the Segment source of the previous test's database
    yield
    cache.clear()
    forget_source()


@pytest.fixture
def site(db):
    site = tracker_site_default(actor=Actor.system())
    return tracker_site_update(actor=Actor.system(), site=site, allowed_origins=[SHOP])


@pytest.fixture
def write_key(make_api_key, site):
    key, secret = make_api_key({"events": "write"}, name="segment")
    return secret


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def send(client, path, body, key=None, *, gzipped=False, raw=None, **headers):
    data = raw if raw is not None else json.dumps(body).encode()
    if gzipped:
        data = gzip.compress(data)
        headers["HTTP_CONTENT_ENCODING"] = "gzip"
    if key:
        headers["HTTP_AUTHORIZATION"] = basic(key)
    return client.post(path, data, content_type="application/json", **headers)


def iso(**delta) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(**delta)).isoformat().replace("+00:00", "Z")


def msg(kind="track", **fields) -> dict:
    body = {"type": kind, "messageId": str(uuid.uuid4()), "timestamp": iso(minutes=-1)}
    if kind == "track":
        body["event"] = "Product Viewed"
    body.update(fields)
    return body


def test_track_from_the_server_makes_the_customer_and_maps_the_name(client, write_key):
    body = msg(
        userId="c-1001",
        event="Order Completed",
        properties={"order_id": "50314b8e", "revenue": 25.0, "currency": "TRY", "products": [{"sku": "45790-32"}]},
        context={"campaign": {"source": "news", "name": "spring"}, "ip": "203.0.113.9", "locale": "tr-TR"},
    )
    response = send(client, "/v1/track", body, write_key)
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True}
    event = Event.objects.get()
    assert event.name == "Placed Order"
    assert event.properties["order_id"] == "50314b8e"
    assert event.properties["products"] == [{"sku": "45790-32"}]
    assert event.properties["context"]["utm"] == {"utm_source": "news", "utm_campaign": "spring"}
    assert event.properties["context"]["ip"] == "203.0.113.9"
    identity = Identity.objects.get(kind=Identity.Kind.SOURCE_ID, value="c-1001")
    assert identity.source.key == "website"
    assert event.customer_id == identity.customer_id


def test_each_message_is_stored_once_however_often_it_is_sent(client, write_key):
    batch = {"batch": [msg(anonymousId="v-1"), msg(kind="page", anonymousId="v-1", name="Home")]}
    for _attempt in range(3):
        assert send(client, "/v1/batch", batch, write_key).json() == {"success": True}
    assert Event.objects.count() == 2
    page = Event.objects.get(name="Viewed Page")
    assert page.properties["name"] == "Home"


def test_identify_after_anonymous_activity_joins_the_visitor(client, write_key):
    send(client, "/v1/track", msg(anonymousId="v-7", event="Product Added"), write_key)
    identify = msg(
        kind="identify",
        anonymousId="v-7",
        userId="c-7",
        traits={"email": "Ayse@Example.com", "firstName": "Ayşe", "address": {"city": "İzmir", "country": "TR"}},
    )
    assert send(client, "/v1/identify", identify, write_key).status_code == 200
    customer = Customer.objects.get()
    assert customer.first_name == "Ayşe"
    assert customer.city == "İzmir"
    assert Event.objects.get(name="Added to Cart").customer_id == customer.pk
    assert set(customer.identities.values_list("kind", flat=True)) >= {"email", "source_id", "anonymous"}


def test_alias_joins_the_previous_id_to_the_user(client, write_key):
    send(client, "/v1/page", msg(kind="page", anonymousId="v-9"), write_key)
    response = send(client, "/v1/alias", {"previousId": "v-9", "userId": "c-9", "messageId": "a-1"}, write_key)
    assert response.status_code == 200
    customer = Identity.objects.get(value="c-9").customer
    assert Event.objects.get().customer_id == customer.pk


def test_clock_skew_is_corrected_with_sent_at(client, write_key):
    # The client's clock is two hours fast: its timestamp and sentAt both say so.
    body = {"batch": [msg(anonymousId="v-1", timestamp=iso(hours=2, minutes=-5))], "sentAt": iso(hours=2)}
    send(client, "/v1/batch", body, write_key)
    occurred = Event.objects.get().occurred_at
    assert abs((dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)) - occurred) < dt.timedelta(seconds=30)


def test_gzip_bodies_and_the_write_key_in_the_body(client, write_key):
    body = {"writeKey": write_key, "batch": [msg(anonymousId="v-1")]}
    assert send(client, "/v1/batch", body, gzipped=True).status_code == 200
    assert Event.objects.count() == 1


def test_screen_and_group(client, write_key):
    send(client, "/v1/screen", msg(kind="screen", userId="c-1", name="Cart"), write_key)
    send(client, "/v1/group", msg(kind="group", userId="c-1", groupId="g-1", traits={"name": "Acme"}), write_key)
    assert Event.objects.get(name="Viewed Screen").properties["name"] == "Cart"
    group = Event.objects.get(name="Joined Group")
    assert group.properties == {"group_id": "g-1", "traits": {"name": "Acme"}}


def test_the_last_messages_are_kept_for_the_settings_page(client, write_key, make_api_key):
    send(client, "/v1/batch", {"batch": [msg(anonymousId="v-1"), {"type": "bogus", "messageId": "x"}]}, write_key)
    from kervan.accounts.models import ApiKey

    key = ApiKey.objects.get(name="segment")
    recent = recent_messages(recent_key_for("key", key.pk))
    assert [entry["status"] for entry in recent] == ["rejected", "stored"]
    assert recent[1]["event"] == "Viewed Product"


# --- bad input ------------------------------------------------------------------------------------------------


def test_a_bad_message_is_skipped_and_the_rest_of_the_batch_stored(client, write_key):
    good = msg(anonymousId="v-1")
    batch = [
        good,
        {"type": "track", "messageId": "m-no-one", "event": "Product Viewed"},
        {"type": "unknown", "messageId": "m-type", "userId": "c-1"},
        msg(userId="c-1", event="x" * 200),
        msg(userId="c-1", properties={"blob": "x" * 40_000}),
        msg(userId="c-1", timestamp="yesterday"),
        "not an object",
    ]
    response = send(client, "/v1/batch", {"batch": batch}, write_key)
    assert response.status_code == 200
    rejected = {r["index"]: r["code"] for r in response.json()["rejected"]}
    assert rejected == {
        1: "missing_identity",
        2: "unknown_type",
        3: "invalid_event",
        4: "message_too_large",
        5: "invalid_timestamp",
        6: "invalid_message",
    }
    assert list(Event.objects.values_list("dedupe_key", flat=True)) == [f"website:{good['messageId']}"]


def test_a_message_refused_by_ingestion_is_skipped_too(client, write_key):
    future = msg(userId="c-1", timestamp=iso(days=2))
    batch = [msg(anonymousId="v-1"), future, msg(anonymousId="v-2")]
    response = send(client, "/v1/batch", {"batch": batch}, write_key)
    assert response.status_code == 200
    assert [(r["index"], r["code"]) for r in response.json()["rejected"]] == [(1, "future_datetime")]
    assert Event.objects.count() == 2
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "malformed_request"),
        (b"[1, 2]", "malformed_request"),
        (json.dumps({"batch": []}).encode(), "malformed_request"),
        (json.dumps({"batch": [{"type": "nope"}]}).encode(), "unknown_type"),
    ],
)
def test_malformed_batches_are_refused_for_good(client, write_key, body, code):
    response = send(client, "/v1/batch", None, write_key, raw=body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert not Event.objects.exists()


def test_a_single_call_with_a_bad_message_is_a_400(client, write_key):
    response = send(client, "/v1/track", {"messageId": "m", "event": "Product Viewed"}, write_key)
    assert response.status_code == 400
    assert response.json()["code"] == "missing_identity"
    assert not Event.objects.exists()


@pytest.mark.parametrize("key", ["", "kv_nope_nope", "pk_unknown", "not-a-key"])
def test_a_wrong_write_key_is_a_401(client, site, key):
    body = {"batch": [msg(anonymousId="v-1")]}
    if key:
        body["writeKey"] = key
    response = send(client, "/v1/batch", body)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_write_key"
    assert not Event.objects.exists()


def test_a_key_without_event_writes_is_refused(client, make_api_key, site):
    _key, secret = make_api_key({"customers": "read"})
    response = send(client, "/v1/track", msg(anonymousId="v-1"), secret)
    assert response.status_code == 403
    assert not Event.objects.exists()


def test_oversize_bodies(client, write_key):
    big_message = msg(anonymousId="v-1", properties={"blob": "x" * 33_000})
    response = send(client, "/v1/track", big_message, write_key)
    assert response.status_code == 400
    assert response.json()["code"] == "request_too_large"
    batch = {"batch": [msg(anonymousId="v-1", properties={"blob": "x" * 30_000}) for _ in range(20)]}
    response = send(client, "/v1/batch", batch, write_key)
    assert response.status_code == 400
    assert response.json()["code"] == "request_too_large"
    # A gzip bomb is measured after inflating it.
    response = send(client, "/v1/batch", batch, write_key, gzipped=True)
    assert response.status_code == 400
    assert response.json()["code"] == "request_too_large"
    assert not Event.objects.exists()


# --- from a browser: the publishable key ----------------------------------------------------------------------


def test_a_browser_key_follows_the_storefront_rules(client, site, write_key):
    owner = send(
        client, "/v1/identify", msg(kind="identify", userId="c-1", traits={"email": "a@example.com"}), write_key
    )
    assert owner.status_code == 200
    known = Customer.objects.get()
    messages = [
        msg(anonymousId="v-1", event="Product Viewed"),
        msg(anonymousId="v-1", event="Order Completed", userId="c-1"),
        msg(kind="identify", anonymousId="v-1", userId="c-1", traits={"email": "a@example.com", "firstName": "Eve"}),
    ]
    response = send(client, "/v1/batch", {"batch": messages, "writeKey": site.public_key}, HTTP_ORIGIN=SHOP)
    assert response.status_code == 200, response.content
    assert response["Access-Control-Allow-Origin"] == SHOP
    names = set(Event.objects.values_list("name", flat=True))
    assert names == {"Viewed Product", "Order Completed"}  # a browser does not assert a Placed Order
    assert not Event.objects.filter(customer=known).exists()  # an unsigned browser names no customer
    known.refresh_from_db()
    assert known.first_name != "Eve"
    assert Customer.objects.count() == 1


def test_a_browser_key_from_a_foreign_origin_is_refused(client, site):
    body = {"batch": [msg(anonymousId="v-1")], "writeKey": site.public_key}
    response = send(client, "/v1/batch", body, HTTP_ORIGIN="https://evil.example.com")
    assert response.status_code == 403
    assert not Event.objects.exists()


def test_preflight_and_the_settings_analytics_next_loads(client, site):
    response = client.options("/v1/t", HTTP_ORIGIN=SHOP, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert response.status_code == 204
    assert "Authorization" in response["Access-Control-Allow-Headers"]
    assert response["Access-Control-Allow-Origin"] == SHOP
    settings = client.get(f"/v1/projects/{site.public_key}/settings").json()
    assert settings["integrations"]["Segment.io"]["apiHost"] == "testserver/v1"
    assert client.get("/v1/projects/pk_nope/settings").status_code == 404


def test_browser_limits_are_retryable(client, site, settings):
    settings.KERVAN_TRACKER_LIMITS = {"visitor_items": (2, 600)}
    body = {"batch": [msg(anonymousId="v-1") for _ in range(3)], "writeKey": site.public_key}
    response = send(client, "/v1/batch", body, HTTP_ORIGIN=SHOP)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert not Event.objects.exists()


# --- the settings page ----------------------------------------------------------------------------------------


def test_the_settings_page_shows_the_lines_to_change_and_the_last_messages(admin_client, client, site, write_key):
    from kervan.accounts.models import ApiKey

    key = ApiKey.objects.get(name="segment")
    send(client, "/v1/track", msg(userId="c-42", event="Checkout Started"), write_key)
    page = admin_client.get("/events/segment/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"writeKey: &#x27;{site.public_key}&#x27;" in html
    assert "cdnURL: &#x27;http://testserver&#x27;" in html
    assert f"kv_{key.prefix}_…" in html
    assert f"/events/segment/recent/key/{key.pk}/" in html
    recent = admin_client.get(f"/events/segment/recent/key/{key.pk}/")
    assert recent.status_code == 200
    assert "Started Checkout" in recent.content.decode()
    assert "c-42" in recent.content.decode()
    assert admin_client.get("/events/segment/recent/key/999999/").status_code == 404
    assert "/events/segment/" in admin_client.get("/events/tracker/").content.decode()


@pytest.mark.parametrize("role", ["admin", "marketing", "sales", "support", "analyst", "readonly"])
def test_the_settings_page_follows_the_role_matrix(make_user, site, role):
    from django.test import Client

    from kervan.accounts.permissions import allows, role_access

    staff = Client()
    staff.force_login(make_user(role))
    access = role_access(role)
    page = staff.get("/events/segment/")
    assert page.status_code == (200 if allows(access.get("settings"), "read") else 403)
    recent = staff.get(f"/events/segment/recent/site/{site.pk}/")
    assert recent.status_code == (200 if allows(access.get("events"), "read") else 403)
    assert Client().get("/events/segment/").status_code == 302


def test_a_batch_whose_every_message_is_refused_is_a_400(client, write_key):
    batch = [msg(userId="c-1", timestamp=iso(days=2)), {"type": "track", "messageId": "m", "event": "Product Viewed"}]
    response = send(client, "/v1/batch", {"batch": batch}, write_key)
    assert response.status_code == 400
    assert [r["code"] for r in response.json()["rejected"]] == ["missing_identity", "future_datetime"]
    assert not Event.objects.exists()


def test_import_takes_a_batch_of_history(client, write_key):
    old = msg(userId="c-1", event="Order Completed", timestamp="2024-03-01T10:00:00Z", properties={"order_id": "O-1"})
    assert send(client, "/v1/import", {"batch": [old]}, write_key).json() == {"success": True}
    event = Event.objects.get()
    assert (event.name, event.occurred_at.isoformat()) == ("Placed Order", "2024-03-01T10:00:00+00:00")
