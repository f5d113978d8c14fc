"""POST /api/v1/events/batch: all or nothing, idempotent, customers resolved in bulk."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kervan.customers.models import Customer, CustomerStats, Identity
from kervan.events.models import Event


def track(event, **fields):
    return {"type": "track", **event(**fields)}


def test_batch_mixes_identifiers_and_reports_counts(api, zeynep, event):
    batch = [
        track(event, customer_id=zeynep.pk),
        track(event, email="zeynep@example.com"),
        track(event, anonymous_id="visitor-1"),
        {"type": "identify", "email": "ali@example.com", "anonymous_id": "visitor-2", "traits": {"first_name": "Ali"}},
        track(event, anonymous_id="visitor-2", name="Added to Cart"),
    ]
    response = api.post("/events/batch", {"batch": batch})
    assert response.status_code == 202, response.json()
    assert response.json() == {"accepted": 4, "duplicates": 0, "identified": 1}
    ali = Customer.objects.get(email="ali@example.com")
    assert ali.first_name == "Ali"
    assert Event.objects.filter(customer=zeynep).count() == 2
    assert Event.objects.get(name="Added to Cart").customer_id == ali.pk  # identify runs before the tracks
    assert Event.objects.get(anonymous_id="visitor-1").customer_id is None


def test_duplicates_inside_one_batch_and_across_batches(api, zeynep, event):
    first = track(event, customer_id=zeynep.pk)
    second = track(event, customer_id=zeynep.pk)
    response = api.post("/events/batch", {"batch": [first, first, second]})
    assert response.json() == {"accepted": 2, "duplicates": 1, "identified": 0}
    third = track(event, customer_id=zeynep.pk)
    response = api.post("/events/batch", {"batch": [second, third, first]})
    assert response.json() == {"accepted": 1, "duplicates": 2, "identified": 0}
    assert Event.objects.count() == 3


def test_customers_are_resolved_in_bulk(api, zeynep, event):
    others = [Customer.objects.create(email=f"c{i}@example.com") for i in range(20)]
    for c in others:
        Identity.objects.create(customer=c, kind="email", value=c.email)
        Identity.objects.create(customer=c, kind="anonymous", value=f"anon-{c.pk}")
    batch = [track(event, email=c.email) for c in others] + [track(event, anonymous_id=f"anon-{c.pk}") for c in others]
    batch += [track(event, customer_id=c.pk) for c in others]
    with CaptureQueriesContext(connection) as queries:
        response = api.post("/events/batch", {"batch": batch})
    assert response.json()["accepted"] == 60
    # auth + customer ids + email lookup + anonymous lookup + insert + stats, not one query per event
    assert len(queries) <= 14, [q["sql"][:80] for q in queries]
    for c in others:
        assert Event.objects.filter(customer=c).count() == 3


def test_stats_follow_the_latest_event_per_customer(api, zeynep, when, event):
    older, newer = when(minutes_ago=30), when(minutes_ago=2)
    api.post("/events/batch", {"batch": [track(event, customer_id=zeynep.pk, occurred_at=t) for t in (newer, older)]})
    stats = CustomerStats.objects.get(customer=zeynep)
    assert stats.last_event_at.isoformat(timespec="seconds") == Event.objects.order_by(
        "-occurred_at"
    ).first().occurred_at.isoformat(timespec="seconds")


def test_oversize_batch_is_refused_with_413(api, settings, event):
    settings.KERVAN_EVENT_BATCH_MAX = 5
    response = api.post("/events/batch", {"batch": [track(event, anonymous_id="a") for _ in range(6)]})
    assert response.status_code == 413
    assert response.json()["code"] == "batch_too_large"
    assert Event.objects.count() == 0


def test_default_limit_is_1000(api, event):
    items = [track(event, anonymous_id="a") for _ in range(1001)]
    response = api.post("/events/batch", {"batch": items})
    assert response.status_code == 413
    assert "1000" in response.json()["detail"]


@pytest.mark.parametrize(
    ("bad", "code", "field"),
    [
        ({"email": "nope"}, "invalid_email", "batch.2.email"),
        ({"occurred_at": "2026-01-01T10:00:00"}, "naive_datetime", "batch.2.occurred_at"),
        ({"customer_id": 999999}, "unknown_customer", "batch.2.customer_id"),
        ({"source": "no-such-source"}, "unknown_source", "batch.2.source"),
        ({"colour": "red"}, "validation_error", "batch.2.track.colour"),
        ({"occurred_at": 12}, "validation_error", "batch.2.track.occurred_at"),
    ],
)
def test_one_bad_item_refuses_the_whole_batch(api, zeynep, event, bad, code, field):
    batch = [
        {"type": "identify", "email": "new@example.com", "anonymous_id": "v-1"},
        track(event, customer_id=zeynep.pk),
        track(event, anonymous_id="v-1", **bad),
        track(event, customer_id=zeynep.pk),
    ]
    customers = Customer.objects.count()
    response = api.post("/events/batch", {"batch": batch})
    assert response.status_code == 422, response.json()
    body = response.json()
    assert body["code"] == code
    assert (body.get("field") or body["errors"][0]["field"]) == field
    assert "2" in body["detail"]
    assert Event.objects.count() == 0
    assert Customer.objects.count() == customers
    assert CustomerStats.objects.get(customer=zeynep).last_event_at is None


@pytest.mark.parametrize(
    "body",
    [
        {"batch": []},
        {"batch": "nope"},
        {"batch": [{"type": "page", "name": "x"}]},
        {"batch": [{"name": "x"}]},
        {"events": []},
        [],
    ],
)
def test_malformed_batches(api, body):
    response = api.post("/events/batch", body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert Event.objects.count() == 0


def test_identify_item_needs_a_real_identifier(api):
    response = api.post("/events/batch", {"batch": [{"type": "identify", "anonymous_id": "v-1"}]})
    assert response.status_code == 422
    assert response.json()["code"] == "missing_identity"


def test_unknown_email_in_several_events_makes_one_customer(api, event):
    batch = [track(event, email="yeni@example.com") for _ in range(3)]
    batch.append(track(event, phone="05559876543", email="yeni@example.com"))
    assert api.post("/events/batch", {"batch": batch}).json()["accepted"] == 4
    assert Customer.objects.count() == 1
    assert Event.objects.filter(customer__email="yeni@example.com").count() == 4


def test_same_event_id_from_different_sources_are_different_events(api, shop, event):
    event_id = str(uuid.uuid4())
    batch = [
        track(event, event_id=event_id, anonymous_id="a"),
        track(event, event_id=event_id, anonymous_id="a", source="shopify-main"),
    ]
    assert api.post("/events/batch", {"batch": batch}).json()["accepted"] == 2


def test_read_only_key_cannot_send_a_batch(make_api_key, event):
    from kervan.conftest import ApiClient

    _, secret = make_api_key(scopes={"events": "read"})
    response = ApiClient(secret).post("/events/batch", {"batch": [track(event, anonymous_id="a")]})
    assert response.status_code == 403
    assert Event.objects.count() == 0


def test_events_for_a_merged_profile_land_on_the_survivor(api, zeynep, admin_actor, event):
    from kervan.customers.actions import customer_create, customer_merge

    twin = customer_create(actor=admin_actor, email="zeynep.kaya@example.com")
    Identity.objects.create(customer=twin, kind="anonymous", value="twin-visitor")
    customer_merge(actor=admin_actor, survivor=zeynep, merged=twin)
    batch = [
        track(event, customer_id=twin.pk),
        track(event, email="zeynep.kaya@example.com"),
        track(event, anonymous_id="twin-visitor"),
    ]
    response = api.post("/events/batch", {"batch": batch})
    assert response.json() == {"accepted": 3, "duplicates": 0, "identified": 0}
    assert Event.objects.filter(customer=zeynep).count() == 3
