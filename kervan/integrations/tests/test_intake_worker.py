"""The integration core on the stub platform: webhook intake (verify first, store, answer at once), the worker
(records written in one transaction; unreadable payloads and refused records dead; missing prerequisites retried),
idempotency (duplicates, retries, out-of-order updates) and replay."""

import datetime as dt
from decimal import Decimal

import pytest

from kervan.customers.models import Customer, Identity
from kervan.integrations.actions import delivery_replay
from kervan.integrations.models import Delivery
from kervan.integrations.testing import deliver, process_all
from kervan.integrations.tests.conftest import an_order, signed
from kervan.integrations.worker import MAX_ATTEMPTS
from kervan.orders.models import Order, OrderStatus


@pytest.mark.django_db
def test_bad_signature_is_refused_and_nothing_is_stored(stub):
    body, headers = signed({"records": [an_order()]}, secret="someone else's")
    response = deliver(stub, body, headers)
    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"
    assert not Delivery.objects.exists()


@pytest.mark.django_db
def test_unknown_address_wrong_method_malformed_and_oversize(stub, client, settings):
    body, headers = signed({"records": []})
    stub_token, stub.token = stub.token, "not-a-connection"
    assert deliver(stub, body, headers).json()["code"] == "unknown_connection"
    stub.token = stub_token
    assert client.get(f"/integrations/hooks/{stub.token}/").status_code == 405
    garbage, headers = b"{not json", signed({})[1]
    headers["X-Stub-Signature"] = signed({})[1]["X-Stub-Signature"]
    import base64  # noqa: E401
    import hashlib
    import hmac

    from kervan.integrations.tests.conftest import TOKEN

    headers["X-Stub-Signature"] = base64.b64encode(hmac.new(TOKEN.encode(), garbage, hashlib.sha256).digest()).decode()
    response = deliver(stub, garbage, headers)
    assert (response.status_code, response.json()["code"]) == (400, "malformed_request")
    settings.KERVAN_WEBHOOK_MAX_BODY = 100
    body, headers = signed({"records": [an_order()]})
    assert deliver(stub, body, headers).status_code == 413
    assert not Delivery.objects.exists()


@pytest.mark.django_db
def test_an_order_is_stored_first_then_written_field_by_field(stub):
    body, headers = signed({"records": [an_order()]}, delivery="d-1")
    response = deliver(stub, body, headers)
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.topic, delivery.delivery_id) == (Delivery.Status.PENDING, "records", "d-1")
    assert delivery.headers["x-stub-topic"] == "records" and "cookie" not in delivery.headers
    assert not Order.objects.exists()  # nothing read before the worker

    assert process_all() == 1
    order = Order.objects.get()
    assert order.external_id == "820982911946154508" and order.number == "#1001"
    assert order.source == stub.source
    assert order.currency == "TRY" and order.status == OrderStatus.PLACED
    assert order.subtotal == Decimal("320.00") and order.shipping_total == Decimal("29.90")
    assert order.total == Decimal("349.90")
    assert [(line.sku, line.title, line.quantity, line.unit_price) for line in order.lines.order_by("id")] == [
        ("KUPA-1", "Kupa", 2, Decimal("150.00")),
        ("", "Hediye paketi", 1, Decimal("20.00")),
    ]
    customer = order.customer
    assert (customer.first_name, customer.last_name, customer.email) == ("Zeynep", "Kaya", "zeynep.kaya@example.com")
    store_id = Identity.objects.get(customer=customer, kind=Identity.Kind.SOURCE_ID)
    assert (store_id.value, store_id.source) == ("7001", stub.source)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DONE and delivery.due_at is None
    assert delivery.result["counts"]["orders"] == {"created": 1}


@pytest.mark.django_db
def test_the_same_delivery_twice_is_stored_and_counted_once(stub):
    body, headers = signed({"records": [an_order()]}, delivery="d-1")
    assert deliver(stub, body, headers).json()["status"] == "accepted"
    assert deliver(stub, body, headers).json()["status"] == "duplicate"
    process_all()
    assert Delivery.objects.count() == 1 and Order.objects.count() == 1


@pytest.mark.django_db
def test_out_of_order_updates_never_overwrite_newer_ones(stub):
    newer = an_order(status="shipped", updated_at="2026-11-03T09:00:00+03:00", tracking="YK123", carrier="Yurtiçi")
    older = an_order(status="paid", updated_at="2026-11-02T12:00:00+03:00")
    for n, payload in enumerate((an_order(), newer, older, newer)):
        body, headers = signed({"records": [payload]}, delivery=f"d-{n}")
        deliver(stub, body, headers)
    process_all()
    order = Order.objects.get()
    assert order.status == OrderStatus.SHIPPED
    assert list(order.status_changes.values_list("status", flat=True)) == ["placed", "paid", "shipped"]
    assert list(order.shipments.values_list("tracking_number", "carrier")) == [("YK123", "Yurtiçi")]
    results = [d.result.get("counts") for d in Delivery.objects.order_by("id")]
    assert results[2] == {"orders": {"ignored": 1}} and results[3] == {"orders": {"ignored": 1}}
    assert order.customer.stats.order_count == 1


@pytest.mark.django_db
def test_a_refund_is_recorded_once_and_a_too_large_one_is_reported_not_fatal(stub):
    refunds = [
        {"id": "r-1", "amount": "150.00", "at": "2026-11-04T10:00:00+03:00", "lines": [["KUPA-1", 1]]},
        {"id": "r-2", "amount": "9999.00", "at": "2026-11-04T11:00:00+03:00"},
    ]
    payload = an_order(status="delivered", updated_at="2026-11-04T12:00:00+03:00", refunds=refunds)
    for n in range(2):  # the second is a retry with a new delivery id and the same update time
        body, headers = signed({"records": [payload]}, delivery=f"d-{n}")
        deliver(stub, body, headers)
    process_all()
    order = Order.objects.get()
    assert order.refunded_total == Decimal("150.00")
    refund = order.refunds.get()
    assert refund.external_id == "r-1" and refund.return_request is not None
    assert list(refund.return_request.lines.values_list("order_line__sku", "quantity")) == [("KUPA-1", 1)]
    first = Delivery.objects.order_by("id").first()
    assert first.result["counts"]["refunds"] == {"created": 1, "refused": 1}
    assert any("r-2" in note for note in first.result["notes"])


@pytest.mark.django_db
def test_a_guest_order_gets_its_own_profile(stub):
    body, headers = signed({"records": [an_order(customer={})]})
    deliver(stub, body, headers)
    process_all()
    customer = Order.objects.get().customer
    assert customer.email == "" and list(customer.tags.values_list("name", flat=True)) == ["guest"]


@pytest.mark.django_db
def test_an_unreadable_payload_is_dead_at_once_with_nothing_written(stub):
    broken = an_order()
    del broken["lines"]
    body, headers = signed({"records": [an_order(id="1", number="#1"), broken]})
    deliver(stub, body, headers)
    process_all()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DEAD and "lines" in delivery.error and delivery.due_at is None
    assert not Order.objects.exists() and not Customer.objects.exists()


@pytest.mark.django_db
def test_a_refused_record_rolls_back_the_whole_delivery(stub):
    bad = an_order(id="2", number="#2", lines=[{"title": "Kupa", "quantity": 0, "price": "1"}])
    body, headers = signed({"records": [an_order(id="1", number="#1"), bad]})
    deliver(stub, body, headers)
    process_all()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DEAD and delivery.error
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_refunds_for_an_order_not_yet_arrived_are_retried_then_dead(stub, clock, monkeypatch):
    from kervan.integrations import canonical as c
    from kervan.integrations.tests import stub_platform

    monkeypatch.setitem(
        stub_platform.READERS,
        "refunds",
        lambda d: c.OrderRefunds(
            order_external_id=d["order"],
            refunds=(c.StoreRefund(external_id="r-9", amount=Decimal("10"), occurred_at=clock.now()),),
        ),
    )
    body, headers = signed({"records": [{"kind": "refunds", "order": "555"}]})
    deliver(stub, body, headers)
    process_all()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.RETRYING and "555" in delivery.error
    assert delivery.due_at > clock.now()
    for _ in range(MAX_ATTEMPTS):
        clock.advance(dt.timedelta(hours=5))
        process_all()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DEAD and delivery.attempts == MAX_ATTEMPTS


@pytest.mark.django_db
def test_replay_processes_a_dead_delivery_again_without_double_counting(stub, admin_actor, monkeypatch):
    body, headers = signed({"records": [an_order()]})
    deliver(stub, body, headers)
    from kervan.integrations.tests import stub_platform

    real = stub_platform.READERS["order"]
    monkeypatch.setitem(stub_platform.READERS, "order", lambda d: (_ for _ in ()).throw(KeyError("number")))
    process_all()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DEAD
    monkeypatch.setitem(stub_platform.READERS, "order", real)  # the mapping is fixed
    delivery_replay(actor=admin_actor, delivery=delivery)
    process_all()
    delivery_replay(actor=admin_actor, delivery=delivery)  # an Admin replays it once more
    process_all()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DONE
    assert Order.objects.count() == 1 and Order.objects.get().customer.stats.order_count == 1


@pytest.mark.django_db
def test_a_paused_connection_stores_deliveries_and_processes_them_on_resume(stub, admin_actor):
    from kervan.integrations.actions import connection_set_status

    connection_set_status(actor=admin_actor, connection=stub, status="paused")
    body, headers = signed({"records": [an_order()]})
    assert deliver(stub, body, headers).status_code == 200
    assert process_all() == 0 and not Order.objects.exists()
    connection_set_status(actor=admin_actor, connection=stub, status="active")
    assert process_all() == 1 and Order.objects.count() == 1
