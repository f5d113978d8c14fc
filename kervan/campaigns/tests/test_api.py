"""The campaigns and messaging API: a campaign from template to report over HTTP, and every refusal a clear 4xx
({"detail", "code"}) that changes nothing."""

import pytest

from kervan.accounts.actors import Actor
from kervan.campaigns.actions import campaigns_advance
from kervan.campaigns.models import Campaign
from kervan.customers.consent import consent_record
from kervan.customers.tests.factories import make_customer
from kervan.messaging.models import Message, Suppression, Template
from kervan.messaging.sending import deliver_due
from kervan.segments.actions import segment_create, static_list_add

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _worker_runs_when_the_test_says(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def segment():
    customers = [make_customer(first_name=n) for n in ("Ayşe", "Ali")]
    consent_record(actor=Actor.system(), customer=customers[0], channel="email", status="granted")
    found = segment_create(actor=Actor.system(), name="Liste", kind="static")
    static_list_add(actor=Actor.system(), segment=found, customer_ids=[c.pk for c in customers])
    return found


TEMPLATE = {
    "name": "Selam",
    "channel": "email",
    "content": {"tr": {"subject": "Selam", "text": "Selam {{ customer.first_name }}"}},
}


def test_a_campaign_over_the_api(api, segment, smtp):
    template = api.post("/messaging/templates", TEMPLATE)
    assert template.status_code == 201
    created = api.post("/campaigns", {"name": "API", "template_id": template.json()["id"], "segment_ids": [segment.pk]})
    assert created.status_code == 201, created.content
    campaign_id = created.json()["id"]
    assert api.get(f"/campaigns/{campaign_id}/audience").json() == {
        "audience": 2,
        "reachable": 1,
        "excluded": {"no_consent": 1},
    }
    assert api.post(f"/campaigns/{campaign_id}/schedule", {}).json()["status"] == "scheduled"
    campaigns_advance()
    deliver_due(worker="w")
    report = api.get(f"/campaigns/{campaign_id}/report").json()
    assert (report["sent"], report["skipped"]) == (1, {"no_consent": 1})
    assert smtp.received[0].message.get_body(("plain",)).get_content().strip() == "Selam Ayşe"
    assert api.post(f"/campaigns/{campaign_id}/schedule", {}).status_code == 409  # not twice


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/messaging/templates", {**TEMPLATE, "content": {"tr": {"text": "{{ x.__class__ }}"}}}, "template_invalid"),
        ("/messaging/templates", {**TEMPLATE, "channel": "fax"}, "invalid_choice"),
        ("/campaigns", {"name": "x", "template_id": 999, "segment_ids": [1]}, "not_found"),
        ("/messaging/suppressions", {"channel": "email", "address": "not an address"}, "invalid"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_nothing_is_written(api, path, body, code):
    response = api.post(path, body)
    assert 400 <= response.status_code < 500
    assert set(response.json()) >= {"detail", "code"}
    assert response.json()["code"].startswith(code.split("_")[0])
    assert not Template.objects.exists() and not Campaign.objects.exists() and not Suppression.objects.exists()


def test_a_read_only_key_reads_and_cannot_send(make_api_key, segment):
    from kervan.conftest import ApiClient

    _, secret = make_api_key({"campaigns": "read", "messaging": "read"})
    reader = ApiClient(secret)
    assert reader.get("/campaigns").status_code == 200
    assert reader.post("/messaging/templates", TEMPLATE).status_code == 403
    assert not Template.objects.exists() and not Message.objects.exists()
