import pytest

from kervan.core.models import Source
from kervan.customers.models import CustomerStats
from kervan.customers.tests.factories import make_customer
from kervan.orders.models import Order

pytestmark = pytest.mark.django_db


def order_body(customer, **extra):
    return {
        "customer_id": customer.pk,
        "placed_at": "2026-03-01T10:00:00+03:00",
        "lines": [{"title": "Çanta", "quantity": 2, "unit_price": "199.90", "tax": "66.63"}],
        "shipping_total": "49.90",
        **extra,
    }


def test_create_order_then_ship_deliver_return_refund(api):
    customer = make_customer()
    response = api.post(
        "/orders/",
        order_body(
            customer, sales_channel="marketplace", marketplace="trendyol", utm_source="google", utm_medium="cpc"
        ),
    )
    assert response.status_code == 201, response.content
    order = response.json()
    assert order["total"] == "516.33" and order["marketplace"] == "trendyol"
    order_id = order["id"]
    shipped = api.post(
        f"/orders/{order_id}/status", {"status": "shipped", "carrier": "Aras Kargo", "tracking_number": "AR-1"}
    )
    assert shipped.status_code == 200
    assert shipped.json()["timeline"][-1] == {
        "status": "shipped",
        "occurred_at": shipped.json()["timeline"][-1]["occurred_at"],
        "details": {"carrier": "Aras Kargo", "tracking_number": "AR-1"},
    }
    assert api.post(f"/orders/{order_id}/status", {"status": "delivered"}).status_code == 200
    line_id = order["lines"][0]["id"]
    ret = api.post(
        f"/orders/{order_id}/returns", {"lines": [{"order_line_id": line_id, "quantity": 1}], "reason": "damaged"}
    )
    assert ret.status_code == 201
    refund = api.post(
        f"/orders/{order_id}/refunds",
        {"amount": "199.90", "reason": "damaged", "return_id": ret.json()["id"], "external_id": "rf-9"},
    )
    assert refund.status_code == 201 and refund.json()["refunded_total"] == "199.90"
    replay = api.post(f"/orders/{order_id}/refunds", {"amount": "199.90", "external_id": "rf-9"})
    assert replay.status_code == 200
    stats = CustomerStats.objects.get(customer=customer)
    assert str(stats.total_spent) == "316.43" and stats.returns_count == 1


def test_duplicate_delivery_returns_the_first_order(api):
    Source.objects.create(key="woo", name="Woo", kind="woocommerce")
    customer = make_customer()
    first = api.post("/orders/", order_body(customer, source="woo", external_id="727"))
    second = api.post("/orders/", order_body(customer, source="woo", external_id="727"))
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"] and Order.objects.count() == 1
    assert CustomerStats.objects.get(customer=customer).order_count == 1


@pytest.mark.parametrize(
    ("patch", "status", "code"),
    [
        ({"customer_id": 424242}, 404, "customer_not_found"),
        ({"source": "nowhere"}, 404, "source_not_found"),
        ({"lines": []}, 422, "validation_error"),
        ({"currency": "TL1"}, 400, "invalid_currency"),
        ({"placed_at": "2026-03-01T10:00:00"}, 400, "naive_datetime"),
        ({"colour": "red"}, 422, "validation_error"),
        ({"sales_channel": "fax"}, 400, "invalid_choice"),
    ],
)
def test_bad_orders_are_refused(api, patch, status, code):
    customer = make_customer()
    response = api.post("/orders/", {**order_body(customer), **patch})
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert Order.objects.count() == 0


def test_invalid_transition_is_409_and_list_filters(api):
    customer = make_customer()
    order_id = api.post("/orders/", order_body(customer)).json()["id"]
    assert api.post(f"/orders/{order_id}/status", {"status": "delivered"}).status_code == 409  # not yet paid/sent
    assert api.post(f"/orders/{order_id}/status", {"status": "paid"}).status_code == 200
    assert api.post(f"/orders/{order_id}/status", {"status": "delivered"}).status_code == 200
    conflict = api.post(f"/orders/{order_id}/status", {"status": "cancelled"})
    assert conflict.status_code == 409 and conflict.json()["code"] == "invalid_transition"
    assert [o["id"] for o in api.get("/orders/", {"customer_id": customer.pk}).json()["items"]] == [order_id]
    assert api.get("/orders/", {"status": "cancelled"}).json()["items"] == []
    assert api.get("/orders/", {"status": "lost"}).status_code == 400


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/orders/", {"sales_channel": "fax"}, "sales_channel"),
        ("/orders/", {"marketplace": "ebay"}, "marketplace"),
        ("/orders/{id}/status", {"status": "lost"}, "status"),
        ("/orders/{id}/status", {"status": "paid", "payment": {"method": "barter"}}, "payment.method"),
        ("/orders/{id}/returns", {"lines": [{"order_line_id": 1, "quantity": 1}], "reason": "bored"}, "reason"),
        ("/orders/{id}/refunds", {"amount": "1.00", "reason": "bored"}, "reason"),
    ],
)
def test_unknown_choices_are_refused_naming_the_field_and_the_choices(api, path, body, field):
    customer = make_customer()
    order = api.post("/orders/", order_body(customer)).json()
    response = api.post(path.format(id=order["id"]), order_body(customer, **body) if path == "/orders/" else body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_choice" and response.json()["field"] == field
    # the message names the refused value and the allowed ones; the field travels beside it, by its input key
    assert "is not one of: " in response.json()["detail"]
    assert Order.objects.count() == 1 and Order.objects.get().status == "placed"


def test_unknown_list_filter_is_refused_naming_the_field(api):
    response = api.get("/orders/", {"sales_channel": "fax"})
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("invalid_choice", "sales_channel")
