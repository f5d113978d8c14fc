"""A return waits for its money until a refund names it or the whole order is refunded: what the Today card
"Returns waiting" and the orders list's has_return=waiting show."""

import pytest

from kervan.accounts.actors import Actor
from kervan.customers.tests.factories import make_customer, make_order
from kervan.orders.actions import order_set_status, refund_create, return_create, returns_settle
from kervan.orders.models import Refund, Return

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def _delivered(lines=((2, "100.00"),)):
    order = make_order(make_customer(), total_lines=lines, status="paid")
    order_set_status(actor=SYSTEM, order=order, status="delivered")
    return order


def _return(order, quantity=1):
    line = order.lines.first()
    ret, _ = return_create(
        actor=SYSTEM, order=order, lines=[{"order_line_id": line.pk, "quantity": quantity}], reason="size"
    )
    return ret


def _waiting(ret) -> bool:
    return Return.objects.get(pk=ret.pk).waiting


def test_a_refund_that_names_the_return_settles_it():
    order = _delivered()
    ret = _return(order)
    assert _waiting(ret)
    refund_create(actor=SYSTEM, order=order, amount="100.00", reason="size", return_request=ret)
    assert not _waiting(ret)


def test_a_partial_refund_naming_no_return_leaves_it_waiting_and_a_full_one_settles_it():
    order = _delivered()
    ret = _return(order)
    refund_create(actor=SYSTEM, order=order, amount="50.00", reason="other")
    assert _waiting(ret)
    refund_create(actor=SYSTEM, order=order, amount="150.00", reason="other")
    assert not _waiting(ret)


def test_a_return_on_an_order_already_refunded_in_full_does_not_wait():
    order = _delivered()
    refund_create(actor=SYSTEM, order=order, amount="200.00", reason="other")
    assert not _waiting(_return(order))


def test_settle_after_bulk_writes_applies_the_same_rule_only_to_the_orders_named():
    named, unnamed, other = _delivered(), _delivered(), _delivered()
    rets = {o.pk: _return(o) for o in (named, unnamed, other)}
    # a bulk writer (the file import, the demo shop) writes refunds without the action
    for order in (named, other):
        Refund.objects.create(
            order=order,
            customer_id=order.customer_id,
            return_request=rets[order.pk],
            amount="100.00",
            currency="TRY",
            occurred_at=order.placed_at,
        )
    assert returns_settle([named.pk, unnamed.pk]) == 1
    assert [_waiting(rets[o.pk]) for o in (named, unnamed, other)] == [False, True, True]
    assert returns_settle() == 1 and not _waiting(rets[other.pk])
    assert returns_settle() == 0  # idempotent


def test_the_refund_form_settles_the_return_it_picks(admin_client):
    order = _delivered()
    ret = _return(order)
    page = admin_client.get(f"/orders/{order.pk}/").content.decode()
    assert "waiting for a refund" in page and f'<option value="{ret.pk}" selected>' in page
    admin_client.post(f"/orders/{order.pk}/refund/", {"amount": "20.00", "reason": "size", "return_id": str(ret.pk)})
    assert not _waiting(ret) and Refund.objects.get().return_request_id == ret.pk
    response = admin_client.post(f"/orders/{order.pk}/refund/", {"amount": "1.00", "reason": "size", "return_id": "x"})
    assert response.status_code == 302 and Refund.objects.count() == 2
