"""Random lives of a shop's orders: after every step the totals the actions kept equal their recompute.

A hypothesis state machine creates orders (through the API's and the import's paths too; in TRY, in EUR whose rates
are all known, and in USD whose rates arrive later), replays them, pays (with and without an amount), ships, delivers,
cancels, refunds, returns, stores USD rates and merges customers in any order; after each
step kervan.orders.stats_rebuild (what `manage.py stats_rebuild --check` runs) must find no customer whose
CustomerStats differ from their orders, refunds and returns, and no order may sit on a merged profile.
"""

import datetime as dt
from contextlib import suppress
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.core.models import Source
from kervan.core.sources import api_source
from kervan.currency.actions import rate_set
from kervan.currency.models import ExchangeRate
from kervan.customers.actions import customer_create, customer_merge
from kervan.imports.sources import import_source
from kervan.orders.actions import NewOrder, order_create, order_set_status, refund_create, return_create
from kervan.orders.actions.orders import OrderReplayConflict
from kervan.orders.models import NEXT_STATUSES, Order
from kervan.orders.stats_rebuild import stats_rebuild

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
START = dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)
PRICES = st.sampled_from(["0.01", "0.05", "9.99", "33.33", "100.00", "249.90"])
EXTERNAL_IDS = st.sampled_from(["", "", "7001", "7002", "7003"])  # "" never replays; the rest often do
PICK = st.integers(min_value=0, max_value=1_000)


class ShopLife(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Each example runs in a savepoint that teardown() rolls back: the next one starts from an empty shop.
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.customers = [customer_create(actor=SYSTEM, email=f"c{i}@example.com") for i in range(3)]
        self.sources = {
            "shop": Source.objects.create(key="shop", name="Shop", kind=Source.Kind.SHOPIFY),
            "api": api_source(),
            "none": None,  # the action's own default (manual)
        }
        self.orders: list[int] = []
        # EUR: a rate every day of the orders' span; USD: none until the rule usd_rate_arrives stores one.
        ExchangeRate.objects.bulk_create(
            ExchangeRate(
                currency="EUR", on=START.date() + dt.timedelta(days=d), try_per_unit="49.1234", source="manual"
            )
            for d in range(0, 91, 7)
        )

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def _order(self, pick: int) -> Order:
        return Order.objects.get(pk=self.orders[pick % len(self.orders)])

    def _create(
        self, *, customer: int, prices: list[str], day: int, external_id: str, source, status, currency="TRY", **extra
    ):
        lines = [{"title": f"Ürün {i}", "quantity": 1 + i % 2, "unit_price": p} for i, p in enumerate(prices)]
        try:
            order, created = order_create(
                actor=SYSTEM,
                new_order=NewOrder(
                    customer=self.customers[customer % len(self.customers)],  # as loaded: maybe merged since
                    lines=lines,
                    placed_at=START + dt.timedelta(days=day),
                    source=source,
                    external_id=external_id,
                    status=status,
                    currency=currency,
                ),
                **extra,
            )
        except OrderReplayConflict as conflict:  # a replay with other content is refused and changes nothing
            return Order.objects.get(pk=conflict.extra["order_id"]), False
        if created:
            self.orders.append(order.pk)
        return order, created

    @rule(
        customer=PICK,
        prices=st.lists(PRICES, min_size=1, max_size=3),
        day=st.integers(0, 90),
        external_id=EXTERNAL_IDS,
        source=st.sampled_from(["shop", "api", "none"]),
        status=st.sampled_from(["placed", "paid", "delivered"]),
        currency=st.sampled_from(["TRY", "TRY", "EUR", "USD"]),
    )
    def create_or_replay(self, customer, prices, day, external_id, source, status, currency):
        self._create(
            currency=currency,
            customer=customer,
            prices=prices,
            day=day,
            external_id=external_id,
            source=self.sources[source],
            status=status,
        )

    @rule(customer=PICK, prices=st.lists(PRICES, min_size=1, max_size=2), day=st.integers(0, 90), number=EXTERNAL_IDS)
    def import_order(self, customer, prices, day, number):
        """As kervan.imports.orders writes a row: the import's source, no stock taken, then its later statuses."""
        order, created = self._create(
            customer=customer,
            prices=prices,
            day=day,
            external_id=number,
            source=import_source(),
            status="paid",
            adjust_stock=False,
        )
        if created:
            order_set_status(actor=SYSTEM, order=order, status="shipped", carrier="Aras", occurred_at=order.placed_at)

    def _move(self, pick: int, status: str, **details) -> None:
        order = self._order(pick)
        if status in NEXT_STATUSES[order.status]:
            order_set_status(actor=SYSTEM, order=order, status=status, **details)

    @precondition(lambda self: self.orders)
    @rule(pick=PICK, cod=st.booleans())
    def pay(self, pick, cod):
        self._move(pick, "paid", payment={"method": "cod", "amount": None} if cod else None)

    @precondition(lambda self: self.orders)
    @rule(pick=PICK, delivered=st.booleans())
    def ship(self, pick, delivered):
        self._move(pick, "shipped", carrier="Yurtiçi", tracking_number="YK1")
        if delivered:
            self._move(pick, "delivered")

    @precondition(lambda self: self.orders)
    @rule(pick=PICK, refunded_first=st.booleans())
    def cancel(self, pick, refunded_first):
        order = self._order(pick)
        if refunded_first and order.can_cancel() and order.total > order.refunded_total:
            refund_create(actor=SYSTEM, order=order, amount="0.01")  # what is left of it leaves the totals
        self._move(pick, "cancelled")

    @precondition(lambda self: self.orders)
    @rule(pick=PICK, share=st.sampled_from(["0.01", "0.5", "1"]), external_id=EXTERNAL_IDS)
    def refund(self, pick, share, external_id):
        order = self._order(pick)
        left = order.total - order.refunded_total
        if left <= 0:
            return
        amount = max((left * Decimal(share)).quantize(Decimal("0.01")), Decimal("0.01"))
        refund_create(actor=SYSTEM, order=order, amount=min(amount, left), external_id=external_id)

    @precondition(lambda self: self.orders)
    @rule(pick=PICK, external_id=EXTERNAL_IDS)
    def return_a_line(self, pick, external_id):
        order = self._order(pick)
        line = order.lines.first()
        with suppress(KervanError):  # a cancelled order, or nothing left to return: refused, nothing written
            return_create(
                actor=SYSTEM,
                order=order,
                lines=[{"order_line_id": line.pk, "quantity": 1}],
                reason="size",
                external_id=external_id,
            )

    @rule(day=st.integers(-3, 90), value=st.sampled_from(["41.9999", "42.5"]))
    def usd_rate_arrives(self, day, value):
        """A USD rate is stored (again, maybe): the orders awaiting it on the days it covers are counted, once."""
        rate_set(actor=SYSTEM, currency="USD", on=START.date() + dt.timedelta(days=day), try_per_unit=value)

    @rule(survivor=PICK, merged=PICK)
    def merge(self, survivor, merged):
        survivor, merged = (self.customers[i % len(self.customers)] for i in (survivor, merged))
        with suppress(KervanError):  # the same person, or one of them merged already
            customer_merge(actor=SYSTEM, survivor=survivor, merged=merged)

    @invariant()
    def totals_equal_their_recompute(self):
        drift: list = []
        stats_rebuild(check=True, on_drift=drift.append)
        assert not drift, [str(d) for d in drift]
        assert not Order.objects.filter(customer__merged_into__isnull=False).exists()
        assert not Order.objects.filter(source__isnull=True).exists()


def test_kept_totals_always_equal_their_recompute():
    run_state_machine_as_test(
        ShopLife,
        settings=settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
