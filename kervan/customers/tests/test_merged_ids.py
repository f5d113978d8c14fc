"""An old customer id (an unsubscribe link, an integration's stored id) reads and writes the person it now lives on:
every API endpoint and page that takes a customer id follows merges to the survivor, through chains of merges."""

import pytest

from kervan.accounts.actors import Actor
from kervan.customers.actions import customer_for_update, customer_merge
from kervan.customers.models import Customer
from kervan.customers.tests.factories import make_customer
from kervan.orders.models import Order

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


@pytest.fixture
def chain():
    """(x, y, z): x merged into y, then y into z. z holds everything."""
    x, y, z = make_customer(), make_customer(), make_customer()
    customer_merge(actor=SYSTEM, survivor=y, merged=x)
    customer_merge(actor=SYSTEM, survivor=z, merged=y)
    return Customer.objects.get(pk=x.pk), Customer.objects.get(pk=y.pk), Customer.objects.get(pk=z.pk)


def test_a_merge_repoints_earlier_merges_at_its_survivor(chain):
    x, y, z = chain
    assert x.merged_into_id == z.pk and y.merged_into_id == z.pk
    assert customer_for_update(x.pk).pk == z.pk


# Every API operation on /customers/{customer_id}…: the request, and what shows it reached the survivor `z`.
API_CASES = {
    ("get", ""): (lambda api, x: api.get(f"/customers/{x.pk}"), lambda r, z: r.json()["id"] == z.pk),
    ("patch", ""): (
        lambda api, x: api.patch(f"/customers/{x.pk}", {"city": "Rize"}),
        lambda r, z: r.json()["id"] == z.pk and Customer.objects.get(pk=z.pk).city == "Rize",
    ),
    ("delete", ""): (
        lambda api, x: api.delete(f"/customers/{x.pk}"),
        lambda r, z: r.status_code == 204 and not Customer.objects.filter(pk=z.pk).exists(),
    ),
    ("get", "/timeline"): (
        lambda api, x: api.get(f"/customers/{x.pk}/timeline"),
        lambda r, z: any(i["kind"] == "merge" for i in r.json()["items"]),  # the survivor's merge entries
    ),
    ("post", "/notes"): (
        lambda api, x: api.post(f"/customers/{x.pk}/notes", {"body": "Aradı"}),
        lambda r, z: r.status_code == 201 and Customer.objects.get(pk=z.pk).notes.filter(body="Aradı").exists(),
    ),
    ("post", "/identities"): (
        lambda api, x: api.post(f"/customers/{x.pk}/identities", {"kind": "phone", "value": "0532 999 88 77"}),
        lambda r, z: Customer.objects.get(pk=z.pk).identities.filter(value="+905329998877").exists(),
    ),
    ("get", "/consents"): (
        lambda api, x: api.get(f"/customers/{x.pk}/consents"),
        lambda r, z: (
            r.status_code == 200
            and [c["id"] for c in r.json()]
            == list(Customer.objects.get(pk=z.pk).consents.order_by("-occurred_at", "-id").values_list("id", flat=True))
        ),
    ),
    ("post", "/consents"): (
        lambda api, x: api.post(f"/customers/{x.pk}/consents", {"channel": "email", "status": "refused"}),
        lambda r, z: r.status_code == 201 and Customer.objects.get(pk=z.pk).consent_email == "refused",
    ),
    ("get", "/duplicates"): (
        lambda api, x: api.get(f"/customers/{x.pk}/duplicates"),
        lambda r, z: r.status_code == 200,  # the survivor's suggestions (checked as the survivor below)
    ),
    ("post", "/merge"): (
        lambda api, x: api.post(f"/customers/{x.pk}/merge", {"merged_id": make_customer().pk}),
        lambda r, z: r.status_code == 200 and r.json()["id"] == z.pk,
    ),
    ("post", "/export"): (
        lambda api, x: api.post(f"/customers/{x.pk}/export"),
        lambda r, z: r.json()["customer"]["id"] == z.pk and len(r.json()["merged_profiles"]) == 2,
    ),
    ("post", "/anonymise"): (
        lambda api, x: api.post(f"/customers/{x.pk}/anonymise", {"reason": "asked"}),
        lambda r, z: r.json()["id"] == z.pk and not Customer.objects.filter(anonymised_at__isnull=True).exists(),
    ),
}


def test_every_api_operation_on_a_customer_id_has_a_case():
    from config.api import api

    operations = {
        (method, path.split("{customer_id}")[1])
        for path, methods in api.get_openapi_schema()["paths"].items()
        if "{customer_id}" in path
        for method in methods
    }
    assert operations == set(API_CASES)


@pytest.mark.parametrize("operation", list(API_CASES), ids=lambda op: f"{op[0]} {op[1] or '/'}")
def test_the_api_follows_merges_to_the_survivor(api, chain, operation):
    x, _y, z = chain
    call, reached_survivor = API_CASES[operation]
    response = call(api, x)
    assert response.status_code < 300, response.content
    assert reached_survivor(response, z)
    assert not Customer.objects.get(pk=x.pk).notes.exists() and not Customer.objects.get(pk=x.pk).consents.exists()


def test_an_order_for_an_old_id_counts_for_the_survivor(api, chain):
    x, _y, z = chain
    response = api.post(
        "/orders/",
        {
            "customer_id": x.pk,
            "external_id": "old-id-1",
            "lines": [{"title": "Çay", "quantity": 1, "unit_price": "90"}],
        },
    )
    assert response.status_code == 201, response.content
    assert Order.objects.get(external_id="old-id-1").customer_id == z.pk
    assert Customer.objects.get(pk=z.pk).stats.order_count == 1


def test_pages_follow_merges_to_the_survivor(admin_client, chain):
    x, _y, z = chain
    assert admin_client.get(f"/customers/{x.pk}/").url == f"/customers/{z.pk}/"
    response = admin_client.post(f"/customers/{x.pk}/notes/", {"body": "Mağazaya geldi"})
    assert response.url == f"/customers/{z.pk}/"
    assert Customer.objects.get(pk=z.pk).notes.filter(body="Mağazaya geldi").exists()
    admin_client.post(f"/customers/{x.pk}/consent/", {"channel": "sms", "status": "refused"})
    assert Customer.objects.get(pk=z.pk).consent_sms == "refused"
    edit = admin_client.get(f"/customers/{x.pk}/edit/").content.decode()
    assert f'value="{z.email}"' in edit and f'value="{x.email}"' not in edit
