"""Stored payloads and personal data: an erasure empties every stored webhook delivery and outgoing webhook payload
that names the person (and no other), and deliveries are deleted after their retention."""

import datetime as dt

import pytest

from kervan.customers.privacy import customer_anonymise
from kervan.integrations.models import Delivery
from kervan.integrations.privacy import ERASED_BODY
from kervan.integrations.tasks import deliveries_prune_task
from kervan.integrations.testing import deliver, process_all
from kervan.integrations.tests.conftest import an_order, signed
from kervan.orders.models import Order
from kervan.outbound.actions import endpoint_create
from kervan.outbound.models import WebhookDelivery


@pytest.mark.django_db
def test_an_erasure_empties_the_payloads_that_name_the_person(stub, admin_actor):
    endpoint_create(actor=admin_actor, url="https://erp.example.com/hooks", events=["customer.created"])
    other = an_order(id="2", number="#2", customer={"id": "7002", "email": "baska.biri@example.com"})
    for n, payload in enumerate((an_order(), other)):
        body, headers = signed({"records": [payload]}, delivery=f"d-{n}")
        deliver(stub, body, headers)
    process_all()
    zeynep = Order.objects.get(external_id="820982911946154508").customer
    assert WebhookDelivery.objects.count() == 2  # customer.created for each

    customer_anonymise(actor=admin_actor, customer=zeynep, reason="KVKK başvurusu 2026/14")

    kept, erased = Delivery.objects.get(delivery_id="d-1"), Delivery.objects.get(delivery_id="d-0")
    assert erased.body == ERASED_BODY and erased.headers == {} and erased.status == Delivery.Status.DONE
    assert "baska.biri@example.com" in kept.body
    payloads = {d.payload["data"].get("customer", {}).get("email"): d for d in WebhookDelivery.objects.all()}
    assert set(payloads) == {"baska.biri@example.com", None}
    emptied = payloads[None]
    assert (
        emptied.payload["data"] == {"erased": "personal data request"}
        and emptied.payload["event"] == "customer.created"
    )
    assert not any("zeynep" in d.body.lower() for d in Delivery.objects.all())


@pytest.mark.django_db
def test_deliveries_are_deleted_after_their_retention(stub, clock, settings):
    settings.KERVAN_WEBHOOK_RETENTION_DAYS = 30
    body, headers = signed({"records": [an_order()]}, delivery="old-done")
    deliver(stub, body, headers)
    broken, headers = signed({"records": [{"kind": "order"}]}, delivery="old-dead")
    deliver(stub, broken, headers)
    process_all()
    clock.advance(dt.timedelta(days=31))
    body, headers = signed({"records": [an_order(id="9", number="#9")]}, delivery="new")
    deliver(stub, body, headers)
    deliveries_prune_task.call()
    assert set(Delivery.objects.values_list("delivery_id", flat=True)) == {"old-dead", "new"}
    clock.advance(dt.timedelta(days=60))
    deliveries_prune_task.call()
    assert set(Delivery.objects.values_list("delivery_id", flat=True)) == {"new"}
    assert Order.objects.count() == 1  # what the deliveries wrote stays
