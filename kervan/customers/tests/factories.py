"""Small builders for tests: real actions, so the data is what the product itself would write."""

import datetime as dt
import itertools
from decimal import Decimal

from kervan.accounts.actors import Actor
from kervan.customers.actions import customer_create
from kervan.orders.actions import NewOrder, order_create

_seq = itertools.count(1)
IST = dt.timezone(dt.timedelta(hours=3))


def make_customer(**profile):
    n = next(_seq)
    profile.setdefault("first_name", "Ayşe")
    profile.setdefault("last_name", f"Yılmaz{n}")
    profile.setdefault("email", f"ayse{n}@example.com")
    return customer_create(actor=Actor.system(), **profile)


def make_order(customer, *, total_lines=((1, "100.00"),), placed_at=None, shipping="0", **kwargs):
    lines = [{"title": f"Ürün {i}", "quantity": q, "unit_price": p} for i, (q, p) in enumerate(total_lines)]
    new_order = NewOrder(
        customer=customer,
        lines=lines,
        shipping_total=Decimal(shipping),
        placed_at=placed_at or dt.datetime(2026, 3, 1, 12, 0, tzinfo=IST),
        **kwargs,
    )
    order, _ = order_create(actor=Actor.system(), new_order=new_order)
    return order
