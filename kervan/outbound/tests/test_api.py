"""/api/v1/outbound: endpoints CRUD, the delivery log, replay; bad input is a 4xx that changes nothing; a read-only
key reads and is refused writes; only Admin has the area."""

import json

import pytest
from django.test import Client

from kervan.accounts.testing import assert_read_matrix, assert_write_matrix
from kervan.core.models import AuditLog
from kervan.outbound.models import WebhookDelivery, WebhookEndpoint

from .conftest import drain

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(make_api_key):
    _key, secret = make_api_key({"outbound": "read"}, name="reader")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_create_read_change_and_delete_an_endpoint(api, receiver):
    response = api.post("/outbound/endpoints", {"url": f"{receiver.url}/hook", "events": ["order.placed",
                        "customer.created"], "description": "ERP"})  # fmt: skip
    assert response.status_code == 201
    body = response.json()
    endpoint = WebhookEndpoint.objects.get()
    assert body["secret"] == endpoint.secret and body["secret"].startswith("whsec_")
    assert body["events"] == ["customer.created", "order.placed"]  # the registry's order
    assert (body["url"], body["description"], body["active"]) == (f"{receiver.url}/hook", "ERP", True)
    read = api.get(f"/outbound/endpoints/{endpoint.pk}").json()
    assert "secret" not in read and read["secret_hint"] == endpoint.secret[:10] + "…"
    assert [e["id"] for e in api.get("/outbound/endpoints").json()] == [endpoint.pk]
    changed = api.patch(f"/outbound/endpoints/{endpoint.pk}", {"active": False, "events": ["consent.changed"]})
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert changed.json()["events"] == ["consent.changed"]
    rotated = api.post(f"/outbound/endpoints/{endpoint.pk}/rotate-secret")
    assert rotated.status_code == 200 and rotated.json()["secret"] != body["secret"]
    assert api.delete(f"/outbound/endpoints/{endpoint.pk}").status_code == 204
    assert not WebhookEndpoint.objects.exists()
    actions = list(AuditLog.objects.filter(object_type="outbound.webhookendpoint").values_list("action", flat=True))
    assert sorted(actions) == ["create", "delete", "update", "update"]


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ({"url": "ftp://example.com/x", "events": ["order.placed"]}, 400, "invalid_url", "url"),
        ({"url": "not a url", "events": ["order.placed"]}, 400, "invalid_url", "url"),
        ({"url": "https://example.com/" + "x" * 600, "events": ["order.placed"]}, 400, "invalid_url", "url"),
        ({"url": "https://example.com/h", "events": []}, 400, "invalid_events", "events"),
        ({"url": "https://example.com/h", "events": ["order.shipped"]}, 400, "invalid_events", "events"),
        ({"url": "https://example.com/h", "events": ["order.placed"], "description": "x" * 201}, 400,
         "invalid_description", "description"),
        ({"url": "https://example.com/h"}, 422, "validation_error", None),
        ({"url": "https://example.com/\x00", "events": ["order.placed"]}, 422, "validation_error", None),
        ({"url": "https://example.com/h", "events": ["order.placed"], "secret": "mine"}, 422, "validation_error",
         None),
    ],
)  # fmt: skip
def test_bad_input_is_refused_and_nothing_is_written(api, payload, status, code, field):
    response = api.post("/outbound/endpoints", payload)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["detail"]
    if field:
        assert body["field"] == field
    assert not WebhookEndpoint.objects.exists() and not AuditLog.objects.exists()


def test_unknown_ids_are_404(api):
    assert api.get("/outbound/endpoints/99999").json()["code"] == "endpoint_not_found"
    assert api.post("/outbound/deliveries/99999/replay").json()["code"] == "delivery_not_found"
    assert api.get("/outbound/endpoints/99999999999999999999").status_code == 422


def test_the_delivery_log_and_replay(api, clock, receiver):
    created = api.post("/outbound/endpoints", {"url": f"{receiver.url}/hook", "events": ["customer.created"]}).json()
    receiver.once["/hook"] = [(410, b"gone")]
    assert api.post("/customers/", {"first_name": "Ayşe", "email": "ayse@example.com"}).status_code == 201
    drain()
    [row] = api.get("/outbound/deliveries", {"endpoint_id": created["id"]}).json()
    assert (row["status"], row["attempts"], row["last_status_code"], row["last_response"]) == ("failed", 1, 410, "gone")
    assert row["event"] == "customer.created" and row["payload"]["data"]["customer"]["email"] == "ayse@example.com"
    assert api.get("/outbound/deliveries", {"status": "delivered"}).json() == []
    bad = api.get("/outbound/deliveries", {"status": "bogus"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_choice"
    assert api.get("/outbound/deliveries", {"limit": 100000}).json()["code"] == "invalid_limit"
    replayed = api.post(f"/outbound/deliveries/{row['id']}/replay")
    assert replayed.status_code == 200 and replayed.json()["status"] == "pending"
    drain()
    again = api.get(f"/outbound/deliveries/{row['id']}").json()
    assert (again["status"], again["replays"], again["event_id"]) == ("delivered", 1, row["event_id"])


def test_a_read_only_key_reads_and_is_refused_every_write(api, reader, receiver):
    created = api.post("/outbound/endpoints", {"url": f"{receiver.url}/hook", "events": ["customer.created"]}).json()
    assert reader.get("/api/v1/outbound/endpoints").status_code == 200
    assert [e["name"] for e in reader.get("/api/v1/outbound/events").json()][:2] == ["customer.created",
                                                                                   "customer.merged"]  # fmt: skip
    delivery = WebhookDelivery.objects.create(endpoint_id=created["id"], event="customer.created", event_id="x",
                                              payload={}, status="failed")  # fmt: skip
    before = list(WebhookEndpoint.objects.values_list("url", "events", "active", "secret_encrypted"))
    writes = [
        ("post", "/api/v1/outbound/endpoints", {"url": "https://example.com/h", "events": ["order.placed"]}),
        ("patch", f"/api/v1/outbound/endpoints/{created['id']}", {"active": False}),
        ("delete", f"/api/v1/outbound/endpoints/{created['id']}", None),
        ("post", f"/api/v1/outbound/endpoints/{created['id']}/rotate-secret", None),
        ("post", f"/api/v1/outbound/endpoints/{created['id']}/test", None),
        ("post", f"/api/v1/outbound/deliveries/{delivery.pk}/replay", None),
    ]
    for method, path, body in writes:
        response = getattr(reader, method)(path, json.dumps(body) if body else None, content_type="application/json")
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "permission_denied"
    assert list(WebhookEndpoint.objects.values_list("url", "events", "active", "secret_encrypted")) == before
    delivery.refresh_from_db()
    assert (delivery.status, delivery.replays) == ("failed", 0)


def test_only_admin_has_the_area(db):
    assert_read_matrix("/api/v1/outbound/endpoints", domain="outbound")
    assert_write_matrix(
        "POST", "/api/v1/outbound/endpoints", lambda role: {"url": f"https://example.com/{role}", "events":
        ["order.placed"]}, domain="outbound", snapshot=lambda: WebhookEndpoint.objects.count(),
    )  # fmt: skip
