"""Orders whose computed totals would not fit the 14-digit amount columns are refused and write nothing
(found by fuzzing the API: quantity x unit price overflowed the column, a 500 on both databases)."""

import pytest

from kervan.core.errors import KervanError
from kervan.customers.models import CustomerStats
from kervan.customers.tests.factories import make_customer, make_order
from kervan.orders.models import Order

TOP = "999999999999.99"


@pytest.mark.parametrize(
    ("lines", "shipping", "field"),
    [
        (((100_000, TOP),), "0", "lines[0] total"),
        (((1, TOP), (1, TOP)), "0", "subtotal"),
        (((1, TOP),), TOP, "total"),
    ],
)
def test_totals_beyond_the_amount_columns_are_refused(db, lines, shipping, field):
    customer = make_customer()
    with pytest.raises(KervanError) as exc:
        make_order(customer, total_lines=lines, shipping=shipping)
    assert (exc.value.code, exc.value.field) == ("amount_too_large", field)
    assert not Order.objects.exists()


def test_a_customer_total_beyond_the_column_refuses_the_order_that_would_overflow_it(db):
    customer = make_customer()
    make_order(customer, total_lines=((1, "900000000000.00"),))
    with pytest.raises(KervanError) as exc:
        make_order(customer, total_lines=((1, "900000000000.00"),))
    assert exc.value.code == "amount_too_large"
    assert Order.objects.count() == 1
    assert CustomerStats.objects.get(customer=customer).order_count == 1


def test_the_api_answers_400_with_the_field(api):
    customer = make_customer()
    line = {"title": "Halı", "quantity": 100_000, "unit_price": TOP}
    response = api.post("/orders/", {"customer_id": customer.pk, "lines": [line]})
    assert response.status_code == 400
    assert response.json()["code"] == "amount_too_large"
    assert not Order.objects.exists()
