"""POST /api/v1/events/track: one event, idempotent by event_id, strict about input."""

import datetime as dt
import json

import pytest

from kervan.core.models import AuditLog
from kervan.customers.models import Customer, CustomerStats, Identity
from kervan.events.models import Event


def test_track_by_customer_id_stores_once(api, zeynep, event):
    body = event(customer_id=zeynep.pk)
    first = api.post("/events/track", body)
    again = api.post("/events/track", body)
    assert first.status_code == 202, first.json()
    assert first.json() == {"accepted": 1, "duplicates": 0, "identified": 0}
    assert again.json() == {"accepted": 0, "duplicates": 1, "identified": 0}
    stored = Event.objects.get()
    assert stored.customer_id == zeynep.pk
    assert stored.dedupe_key == f"api:{body['event_id']}"
    assert stored.properties == {"product_id": "p-1", "price": 349.9}
    assert stored.occurred_at == dt.datetime.fromisoformat(body["occurred_at"])


def test_track_by_known_email_and_phone(api, zeynep, event):
    assert api.post("/events/track", event(email=" Zeynep@Example.com ")).status_code == 202
    assert api.post("/events/track", event(phone="+90 532 123 45 67")).status_code == 202
    assert set(Event.objects.values_list("customer_id", flat=True)) == {zeynep.pk}
    assert Customer.objects.count() == 1


def test_track_for_unknown_email_creates_the_customer(api, event):
    response = api.post("/events/track", event(email="yeni@example.com", anonymous_id="anon-1"))
    assert response.status_code == 202
    customer = Customer.objects.get(email="yeni@example.com")
    assert Event.objects.get().customer_id == customer.pk
    assert Identity.objects.filter(customer=customer, kind="anonymous", value="anon-1").exists()
    assert AuditLog.objects.filter(customer_id=customer.pk, action="create").exists()


def test_track_by_store_user_id_namespaces_the_event_id(api, zeynep, shop, event):
    Identity.objects.create(customer=zeynep, kind="source_id", value="shop-42", source=shop)
    body = event(user_id="shop-42", source="shopify-main")
    assert api.post("/events/track", body).status_code == 202
    # The same client id from another sender is a different event.
    assert (
        api.post("/events/track", {**body, "user_id": None, "source": None, "customer_id": zeynep.pk}).json()[
            "accepted"
        ]
        == 1
    )
    keys = set(Event.objects.values_list("dedupe_key", "source__key"))
    assert keys == {(f"shopify-main:{body['event_id']}", "shopify-main"), (f"api:{body['event_id']}", None)}
    assert set(Event.objects.values_list("customer_id", flat=True)) == {zeynep.pk}


def test_track_anonymous_visitor(api, event):
    assert api.post("/events/track", event(anonymous_id="visitor-9")).status_code == 202
    stored = Event.objects.get()
    assert stored.customer_id is None and stored.anonymous_id == "visitor-9"


def test_long_event_ids_still_fit_the_dedupe_key(api, zeynep, event):
    body = event(customer_id=zeynep.pk, event_id="x" * 100)
    assert api.post("/events/track", body).json()["accepted"] == 1
    assert api.post("/events/track", body).json()["duplicates"] == 1
    assert len(Event.objects.get().dedupe_key) <= 100


def test_last_event_at_only_moves_forward(api, zeynep, when, event):
    api.post("/events/track", event(customer_id=zeynep.pk, occurred_at=when(minutes_ago=5)))
    latest = CustomerStats.objects.get(customer=zeynep).last_event_at
    assert latest is not None
    api.post("/events/track", event(customer_id=zeynep.pk, occurred_at=when(minutes_ago=60)))
    assert CustomerStats.objects.get(customer=zeynep).last_event_at == latest
    api.post("/events/track", event(customer_id=zeynep.pk, occurred_at=when(minutes_ago=1)))
    assert CustomerStats.objects.get(customer=zeynep).last_event_at > latest


def test_merged_customer_events_go_to_the_survivor(api, admin_actor, zeynep, event):
    from kervan.customers.actions import customer_create, customer_merge

    other = customer_create(actor=admin_actor, first_name="Z", email="z2@example.com")
    customer_merge(actor=admin_actor, survivor=zeynep, merged=other)
    api.post("/events/track", event(customer_id=other.pk))
    assert Event.objects.get().customer_id == zeynep.pk


BAD = [
    ("naive datetime", {"occurred_at": "2026-01-01T10:00:00"}, 422, "naive_datetime"),
    ("far future", {"occurred_at": "2999-01-01T10:00:00+03:00"}, 422, "future_datetime"),
    ("before 1970", {"occurred_at": "1969-12-31T10:00:00+00:00"}, 422, "invalid_datetime"),
    ("not a datetime", {"occurred_at": "yesterday"}, 422, "validation_error"),
    ("invalid email", {"email": "not-an-email"}, 422, "invalid_email"),
    ("invalid phone", {"phone": "12"}, 422, "invalid_phone"),
    ("unknown customer", {"customer_id": 987654}, 422, "unknown_customer"),
    ("customer id too big", {"customer_id": 2**70}, 422, "validation_error"),
    ("unknown source", {"anonymous_id": "a", "source": "nope"}, 422, "unknown_source"),
    ("user_id without source", {"user_id": "42"}, 422, "missing_source"),
    ("nobody", {}, 422, "missing_identity"),
    ("unknown field", {"anonymous_id": "a", "colour": "red"}, 422, "validation_error"),
    ("wrong type", {"anonymous_id": "a", "properties": ["a"]}, 422, "validation_error"),
    ("name too long", {"anonymous_id": "a", "name": "x" * 101}, 422, "validation_error"),
    ("empty name", {"anonymous_id": "a", "name": "  "}, 422, "validation_error"),
    ("NUL in name", {"anonymous_id": "a", "name": "a\x00b"}, 422, "validation_error"),
    ("lone surrogate", {"anonymous_id": "a", "name": "\ud800"}, 422, "validation_error"),
    ("properties too large", {"anonymous_id": "a", "properties": {"x": "y" * 17000}}, 422, "properties_too_large"),
    ("NUL in properties", {"anonymous_id": "a", "properties": {"x": "a\x00"}}, 422, "invalid_properties"),
    ("huge int in properties", {"anonymous_id": "a", "properties": {"x": 2**70}}, 422, "invalid_properties"),
    ("missing event_id", {"anonymous_id": "a", "event_id": None}, 422, "validation_error"),
]


@pytest.mark.parametrize(("case", "fields", "status", "code"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_and_nothing_is_written(api, event, case, fields, status, code):
    body = event(**fields)
    body = {k: v for k, v in body.items() if v is not None}
    customers = Customer.objects.count()
    response = api.post("/events/track", body)
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert Event.objects.count() == 0
    assert Customer.objects.count() == customers


def test_malformed_json_is_a_400(api):
    response = api.post("/events/track", raw="{not json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    assert Event.objects.count() == 0


def test_literal_backslash_u0000_text_is_fine(api, event):
    assert api.post("/events/track", event(anonymous_id="a", properties={"x": "\\u0000"})).status_code == 202


def test_read_only_key_cannot_track(make_api_key, event, zeynep):
    from kervan.conftest import ApiClient

    _, secret = make_api_key(scopes={"events": "read"})
    response = ApiClient(secret).post("/events/track", event(customer_id=zeynep.pk))
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Event.objects.count() == 0


def test_anonymous_request_is_refused(db, client, event):
    response = client.post("/api/v1/events/track", event(anonymous_id="a"), content_type="application/json")
    assert response.status_code == 401
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    "raw",
    ["null", '"text"', "123", "[]", "{}", '{"batch": null}', "[" * 100_000, '{"properties": ' + "[" * 300 + "]" * 300],
)
def test_odd_bodies_are_4xx(api, raw):
    for path in ("/events/track", "/events/identify", "/events/batch"):
        response = api.post(path, raw=raw)
        assert 400 <= response.status_code < 500, (path, raw[:30], response.content[:200])
        assert response.json()["code"]
    assert Event.objects.count() == 0


def test_deeply_nested_properties_are_refused(api, event):
    deep: dict = {}
    node = deep
    for _ in range(300):
        node["x"] = {}
        node = node["x"]
    response = api.post("/events/track", raw=json.dumps(event(anonymous_id="a", properties=deep)))
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_properties"
