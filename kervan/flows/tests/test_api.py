"""/api/v1/flows: drafts, publishing (a flow that cannot run is a 400 naming the step), the library, the report,
product subscriptions, and what a read-only key may do."""

import pytest

from kervan.accounts.actors import Actor
from kervan.catalog.actions import product_create
from kervan.conftest import ApiClient
from kervan.customers.tests.factories import make_customer
from kervan.flows.models import Flow, FlowVersion, ProductSubscription
from kervan.messaging.actions import template_save

CONTENT = {"tr": {"subject": "Merhaba", "html": "<p>Merhaba</p>"}}


@pytest.fixture
def template(db):
    return template_save(actor=Actor.system(), name="Merhaba", channel="email", purpose="marketing", content=CONTENT)


def test_create_publish_and_report(api, template):
    draft = {
        "name": "Sepet",
        "trigger": {"type": "event", "event": "Started Checkout", "unless": {"event": "Placed Order", "hours": 1}},
        "graph": {"start": "s1", "steps": {"s1": {"type": "send", "template": template.pk, "next": None}}},
        "settings": {"exit_on": ["Placed Order"], "holdout_percent": 10},
    }
    created = api.post("/flows", draft)
    assert created.status_code == 201, created.json()
    flow_id = created.json()["id"]
    published = api.post(f"/flows/{flow_id}/publish")
    assert published.status_code == 200
    assert (published.json()["status"], published.json()["live_version"]) == ("live", 1)
    paused = api.post(f"/flows/{flow_id}/status", {"status": "paused"})
    assert paused.json()["status"] == "paused"
    report = api.get(f"/flows/{flow_id}/report").json()
    assert report["summary"]["entered"] == 0 and report["uplift"]["conversion"] is None
    assert report["attribution"]["revenue"] == "0"


def test_a_flow_that_cannot_run_is_refused_with_the_step_named(api, template):
    draft = {
        "name": "Bozuk",
        "trigger": {"type": "event", "event": "Started Checkout"},
        "graph": {
            "start": "s1",
            "steps": {"s1": {"type": "split", "kind": "random", "percent": 50, "yes": "s2"}, "s2": {"type": "exit"}},
        },
    }
    flow_id = api.post("/flows", draft).json()["id"]
    refused = api.post(f"/flows/{flow_id}/publish")
    assert refused.status_code == 400
    assert refused.json()["code"] == "missing_branch"
    assert "steps.s1.no" in refused.json()["detail"]
    assert not FlowVersion.objects.exists() and Flow.objects.get(pk=flow_id).status == "draft"


def test_bad_drafts_are_clear_400s(api):
    assert api.post("/flows", {"name": ""}).json()["code"] == "invalid_name"
    response = api.post("/flows", {"name": "x", "priority": 5000})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_priority")
    assert api.post("/flows/library", {"key": "nope"}).json()["code"] == "unknown_library_flow"
    assert not Flow.objects.exists()


def test_start_a_library_flow(api):
    response = api.post("/flows/library", {"key": "abandoned_cart"})
    assert response.status_code == 201
    assert response.json()["status"] == "live" and response.json()["library_key"] == "abandoned_cart"


def test_product_subscriptions(api):
    customer = make_customer(email="ayse@example.com")
    product_create(actor=Actor.system(), title="Çanta", variants=[{"sku": "BAG-1", "price": "10"}])
    ok = api.post("/flows/subscriptions", {"customer_id": customer.pk, "sku": "BAG-1"})
    assert ok.status_code == 201
    again = api.post("/flows/subscriptions", {"customer_id": customer.pk, "sku": "BAG-1"})
    assert again.json()["id"] == ok.json()["id"]  # asking twice is one subscription
    unknown = api.post("/flows/subscriptions", {"customer_id": customer.pk, "sku": "NOPE"})
    assert (unknown.status_code, unknown.json()["code"]) == (400, "not_found")
    assert api.post("/flows/subscriptions", {"customer_id": customer.pk}).json()["code"] == "missing_product"
    assert ProductSubscription.objects.count() == 1


def test_a_read_only_key_reads_and_changes_nothing(make_api_key, template):
    _, secret = make_api_key({"flows": "read"})
    reader = ApiClient(secret)
    assert reader.get("/flows").status_code == 200
    assert reader.post("/flows", {"name": "x"}).status_code == 403
    assert reader.post("/flows/library", {"key": "welcome"}).status_code == 403
    assert not Flow.objects.exists()


def test_nul_characters_and_ids_beyond_64_bits_are_400s(api):
    nul = api.post("/flows", {"name": "x", "graph": {"steps": {"s\u0000": {}}}})
    huge = api.post("/flows/subscriptions", {"customer_id": 2**64, "sku": "x"})
    assert (nul.status_code, huge.status_code) == (422, 422)
    assert api.post("/flows/subscriptions", {"customer_id": 1, "sku": "A\u0000"}).status_code == 422
    assert not Flow.objects.exists()
