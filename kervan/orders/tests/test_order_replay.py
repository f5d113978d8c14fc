"""An order sent again under the same source + external_id: the same content is a harmless retry (200, the first
order); different content is refused 409 order_conflict naming each differing field, and changes nothing."""

from decimal import Decimal

import pytest

from kervan.accounts.actors import Actor
from kervan.customers.actions import customer_merge
from kervan.customers.models import CustomerStats
from kervan.customers.tests.factories import make_customer
from kervan.events.models import Event
from kervan.orders.actions import NewOrder, order_create
from kervan.orders.actions.orders import OrderReplayConflict
from kervan.orders.models import Order, OrderLine
from kervan.orders.tests.test_api import order_body

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def state(customer) -> tuple:
    stats = CustomerStats.objects.get(customer=customer)
    return (
        list(Order.objects.values_list("id", "total", "shipping_total", "status", "number")),
        list(OrderLine.objects.values_list("quantity", "unit_price")),
        (stats.order_count, stats.total_spent),
        Event.objects.count(),
    )


def test_the_same_order_again_is_the_first_one(api):
    customer = make_customer()
    first = api.post("/orders/", order_body(customer, external_id="S-1"))
    before = state(customer)
    again = api.post("/orders/", order_body(customer, external_id="S-1"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["total"] == first.json()["total"]
    assert state(customer) == before


def test_a_changed_order_is_refused_with_what_differs(api):
    customer = make_customer()
    first = api.post("/orders/", order_body(customer, external_id="S-2")).json()
    before = state(customer)
    changed = order_body(customer, external_id="S-2", shipping_total="0", utm_source="newsletter")
    changed["lines"][0]["quantity"] = 3
    response = api.post("/orders/", changed)
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "order_conflict" and body["order_id"] == first["id"]
    assert body["differences"] == [
        {"field": "shipping_total", "stored": "49.90", "sent": "0.00"},
        {"field": "utm_source", "stored": "", "sent": "newsletter"},
        {"field": "lines[0].quantity", "stored": "2", "sent": "3"},
    ]
    assert "shipping_total, utm_source, lines[0].quantity" in body["detail"]
    assert f"/orders/{first['id']}/status" in body["detail"]
    assert state(customer) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"placed_at": "2026-03-02T10:00:00+03:00"}, "placed_at"),
        ({"currency": "EUR"}, "currency"),
        ({"total": "1.00"}, "total"),
        ({"number": "#9999"}, "number"),
        ({"status": "paid"}, "status"),
        ({"sales_channel": "pos"}, "sales_channel"),
        ({"discount_codes": ["YAZ10"]}, "discount_codes"),
        ({"lines": [{"title": "Çanta", "quantity": 2, "unit_price": "199.90", "tax": "0"}]}, "lines[0].tax"),
        ({"lines": [{"title": "Cüzdan", "quantity": 2, "unit_price": "199.90", "tax": "66.63"}]}, "lines[0].title"),
        ({"lines": [{"title": "Çanta", "quantity": 1, "unit_price": "1"}] * 2}, "lines"),
    ],
)
def test_each_kind_of_difference_is_named(api, change, field):
    customer = make_customer()
    api.post("/orders/", order_body(customer, external_id="S-3", number="#1001"))
    response = api.post("/orders/", {**order_body(customer, external_id="S-3", number="#1001"), **change})
    assert response.status_code == 409, response.content
    assert [d["field"] for d in response.json()["differences"]] == [field]


def test_the_same_moment_in_another_offset_is_the_same_order(api):
    customer = make_customer()
    api.post("/orders/", order_body(customer, external_id="S-4"))
    again = api.post("/orders/", order_body(customer, external_id="S-4", placed_at="2026-03-01T07:00:00Z"))
    assert again.status_code == 200, again.content


def test_a_retry_of_an_order_that_has_moved_on_is_still_the_same_order(api):
    customer = make_customer()
    order = api.post("/orders/", order_body(customer, external_id="S-5")).json()
    api.post(f"/orders/{order['id']}/status", {"status": "paid"})
    api.post(f"/orders/{order['id']}/status", {"status": "shipped", "carrier": "Aras", "tracking_number": "A1"})
    assert api.post("/orders/", order_body(customer, external_id="S-5")).status_code == 200  # sent as placed
    assert api.post("/orders/", order_body(customer, external_id="S-5", status="paid")).status_code == 200
    refused = api.post("/orders/", order_body(customer, external_id="S-5", status="delivered"))
    assert refused.status_code == 409
    assert refused.json()["differences"] == [{"field": "status", "stored": "shipped", "sent": "delivered"}]


def test_what_kervan_filled_in_is_not_a_difference(api):
    """No number, total or line title sent the first time and again: Kervan's own K000123 and computed total are
    not 'differences' from a body that never named them."""
    customer = make_customer()
    body = order_body(customer, external_id="S-6")
    body["lines"] = [{"title": "Çanta", "quantity": 1, "unit_price": "10"}]
    first = api.post("/orders/", body).json()
    assert first["number"].startswith("K")
    assert api.post("/orders/", body).status_code == 200


def test_an_order_for_a_customer_merged_since_is_the_same_order(api):
    merged, survivor = make_customer(), make_customer()
    api.post("/orders/", order_body(merged, external_id="S-7"))
    customer_merge(actor=SYSTEM, survivor=survivor, merged=merged)
    assert api.post("/orders/", order_body(merged, external_id="S-7")).status_code == 200
    other = make_customer()
    refused = api.post("/orders/", order_body(other, external_id="S-7"))
    assert refused.status_code == 409 and refused.json()["differences"][0]["field"] == "customer_id"


def test_the_action_raises_for_every_caller():
    customer = make_customer()
    lines = [{"title": "Çanta", "quantity": 1, "unit_price": "10"}]
    order, created = order_create(actor=SYSTEM, new_order=NewOrder(customer=customer, lines=lines, external_id="X"))
    assert created
    same, created = order_create(actor=SYSTEM, new_order=NewOrder(customer=customer, lines=lines, external_id="X"))
    assert same.pk == order.pk and not created
    with pytest.raises(OrderReplayConflict) as refused:
        order_create(
            actor=SYSTEM,
            new_order=NewOrder(customer=customer, lines=[{**lines[0], "unit_price": "11"}], external_id="X"),
        )
    assert refused.value.status == 409
    assert refused.value.extra["differences"] == [{"field": "lines[0].unit_price", "stored": "10.00", "sent": "11.00"}]
    assert Order.objects.get().total == Decimal("10.00")
