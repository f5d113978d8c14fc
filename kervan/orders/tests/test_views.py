import pytest

from kervan.accounts.testing import assert_form_matrix, assert_page_matrix
from kervan.customers.models import CustomerStats
from kervan.customers.tests.factories import make_customer, make_order
from kervan.orders.models import OrderStatusChange, Refund, Return

pytestmark = pytest.mark.django_db


def test_order_page_and_its_forms(admin_client):
    customer = make_customer()
    order = make_order(customer, total_lines=((2, "100.00"),))
    page = admin_client.get(f"/orders/{order.pk}/").content.decode()
    assert order.number in page and 'name="qty_' in page
    admin_client.post(f"/orders/{order.pk}/status/", {"status": "shipped", "carrier": "PTT Kargo"})
    assert order.status_changes.last().details["carrier"] == "PTT Kargo"
    line = order.lines.get()
    admin_client.post(f"/orders/{order.pk}/return/", {f"qty_{line.pk}": "1", "reason": "size", "restock": "on"})
    admin_client.post(f"/orders/{order.pk}/refund/", {"amount": "100", "reason": "size"})
    assert Return.objects.filter(order=order).count() == 1 and Refund.objects.get(order=order).amount == 100
    assert CustomerStats.objects.get(customer=customer).total_spent == 100
    bad = admin_client.post(f"/orders/{order.pk}/refund/", {"amount": "1000"}, follow=True)
    assert "can still be refunded" in bad.content.decode() and Refund.objects.count() == 1
    timeline = admin_client.get(f"/customers/{customer.pk}/").content.decode()
    assert f'href="/orders/{order.pk}/"' in timeline


def test_order_pages_follow_the_role_matrix():
    order = make_order(make_customer())
    assert_page_matrix(f"/orders/{order.pk}/", "orders")
    assert_form_matrix(
        lambda role: f"/orders/{make_order(order.customer).pk}/status/",
        {"status": "paid"},
        "orders",
        lambda: OrderStatusChange.objects.count(),
    )
