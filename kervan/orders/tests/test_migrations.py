"""orders 0002/0003: every order gets a source; copies of one external id the old race stored keep only one id."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from kervan.core.models import Source
from kervan.customers.tests.factories import make_customer
from kervan.orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE, AFTER = [("orders", "0001_initial")], [("orders", "0003_order_source_required")]


def latest(executor: MigrationExecutor) -> None:
    """Back to the newest migrations (the later ones too), so the models can read the tables again."""
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


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
        latest(executor)
    api = Source.objects.get(key="api")
    assert api.kind == Source.Kind.API
    ids = dict(Order.objects.values_list("pk", "external_id"))
    assert [ids[pk] for pk in copies] == ["W-500", "", ""]
    assert (ids[single], ids[unnamed], ids[from_shop]) == ("W-501", "", "W-500")
    assert set(Order.objects.exclude(pk=from_shop).values_list("source_id", flat=True)) == {api.pk}
    assert Order.objects.get(pk=from_shop).source_id == shop.pk


def test_orders_get_their_reporting_amounts_from_the_rates_known():
    """orders 0004: orders in the reporting currency at rate 1, others at their day's rate if stored, else awaiting."""
    from kervan.currency.models import ExchangeRate
    from kervan.orders.models import Refund

    customer = make_customer()
    ExchangeRate.objects.create(currency="EUR", on=dt.date(2026, 2, 27), try_per_unit="49.50", source="manual")
    before = [("orders", "0003_order_source_required")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        OldOrder, OldRefund = old.get_model("orders", "Order"), old.get_model("orders", "Refund")  # noqa: N806
        placed = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)

        def order(currency: str, total: str, refunds: tuple[str, ...] = ()) -> int:
            made = OldOrder.objects.create(
                customer_id=customer.pk,
                source_id=Source.objects.get_or_create(key="api", defaults={"name": "API", "kind": "api"})[0].pk,
                currency=currency,
                total=total,
                refunded_total=sum((Decimal(r) for r in refunds), Decimal(0)),
                placed_at=placed,
            )
            for amount in refunds:
                OldRefund.objects.create(
                    order_id=made.pk, customer_id=customer.pk, amount=amount, currency=currency, occurred_at=placed
                )
            return made.pk

        lira, euro, pound = (
            order("TRY", "100.00", ("10.00",)),
            order("EUR", "10.00", ("3.33", "6.67")),
            order("GBP", "5"),
        )
    finally:
        latest(MigrationExecutor(connection))
    rows = {o.pk: o for o in Order.objects.all()}
    assert (rows[lira].reporting_rate, rows[lira].reporting_total, rows[lira].reporting_refunded) == (1, 100, 10)
    assert (rows[euro].reporting_rate, rows[euro].reporting_total, rows[euro].reporting_refunded) == (
        Decimal("49.5"),
        Decimal("495.00"),
        Decimal("495.00"),
    )
    assert rows[pound].reporting_rate is None and rows[pound].reporting_total is None
    assert sorted(Refund.objects.values_list("reporting_amount", flat=True)) == [
        Decimal("10.00"),
        Decimal("164.84"),
        Decimal("330.16"),
    ]
