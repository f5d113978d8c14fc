"""orders 0002/0003: every order gets a source; copies of one external id the old race stored keep only one id."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from kervan.core.models import Source
from kervan.customers.tests.factories import make_customer
from kervan.orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE, AFTER = [("orders", "0001_initial")], [("orders", "0003_order_source_required")]


def test_orders_without_a_source_get_the_apis_own_and_one_copy_keeps_its_external_id():
    customer = make_customer()
    shop = Source.objects.create(key="shop", name="Shop", kind=Source.Kind.SHOPIFY)
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps.get_model("orders", "Order")
        placed = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)

        def order(external_id: str, source_id=None) -> int:
            return old.objects.create(
                customer_id=customer.pk, source_id=source_id, external_id=external_id, placed_at=placed
            ).pk

        copies = [order("W-500") for _ in range(3)]  # what eight simultaneous replays used to store
        single, unnamed, from_shop = order("W-501"), order(""), order("W-500", shop.pk)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
    api = Source.objects.get(key="api")
    assert api.kind == Source.Kind.API
    ids = dict(Order.objects.values_list("pk", "external_id"))
    assert [ids[pk] for pk in copies] == ["W-500", "", ""]
    assert (ids[single], ids[unnamed], ids[from_shop]) == ("W-501", "", "W-500")
    assert set(Order.objects.exclude(pk=from_shop).values_list("source_id", flat=True)) == {api.pk}
    assert Order.objects.get(pk=from_shop).source_id == shop.pk
