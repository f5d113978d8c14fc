"""`manage.py demo_load` against the database: logins, consistency of what it wrote, determinism, --if-empty."""

import hashlib
from collections import defaultdict
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Sum

from kervan.accounts.actors import Actor
from kervan.accounts.models import User
from kervan.core.models import AuditLog, Source
from kervan.customers.models import ConsentRecord, Customer, CustomerStats, Identity
from kervan.customers.search import customer_name_key, customer_search_key
from kervan.demo.actions import DEMO_USERS, MODELS, demo_load
from kervan.demo.generator import DemoSettings
from kervan.events.models import Event
from kervan.orders.models import Order, OrderLine, OrderStatusChange, Refund, Return, ReturnLine, Shipment

pytestmark = pytest.mark.django_db

CENT = Decimal("0.01")


def load(customers: int = 60, seed: int = 3, *extra: str) -> str:
    out = StringIO()
    call_command("demo_load", "--customers", str(customers), "--seed", str(seed), *extra, stdout=out)
    return out.getvalue()


@pytest.fixture
def shop():
    load()


def fingerprint() -> str:
    """A hash of the key columns of customers and orders (not ids), in id order."""
    digest = hashlib.sha256()
    for row in Customer.objects.order_by("pk").values_list(
        "first_name", "last_name", "email", "phone", "city", "birth_date", "gender", "consent_email", "created_at"
    ):
        digest.update(repr(row).encode())
    for row in Order.objects.order_by("pk").values_list(
        "number", "customer__email", "status", "total", "refunded_total", "placed_at", "sales_channel"
    ):
        digest.update(repr(row).encode())
    digest.update(repr(sorted(Event.objects.values_list("dedupe_key", "name", "occurred_at"))).encode())
    return digest.hexdigest()


def remove_demo_shop():
    Event.objects.all().delete()
    Order.objects.all().delete()
    Customer.objects.all().delete()


def test_small_shop_loads_and_says_what_it_did(shop):
    assert Customer.objects.count() == 60
    assert Order.objects.exists() and OrderLine.objects.exists() and Event.objects.exists()
    assert CustomerStats.objects.count() == 60
    assert {"web", "trendyol", "pos"} <= set(Source.objects.values_list("key", flat=True))
    assert Source.objects.get(key="web").kind == "shopify"
    assert AuditLog.objects.filter(action="import", object_type="demo.load").count() == 1


def test_summary_is_printed():
    output = load(40, 5)
    assert "40 customers" in output and "orders" in output and "events" in output
    assert "demo" in output  # the logins it created


def test_demo_logins_exist_one_per_role(shop):
    for username, role, *_ in DEMO_USERS:
        user = User.objects.get(username=username)
        assert user.role == role
        assert authenticate(username=username, password="kervan-demo") == user
    assert User.objects.get(username="demo").role == "admin"


def test_existing_logins_are_left_alone(make_user):
    existing = make_user("readonly", "demo")
    load(20, 1)
    existing.refresh_from_db()
    assert existing.role == "readonly" and existing.check_password("kervan-test-pw")
    assert User.objects.filter(username="satis", role="sales").exists()


def test_if_empty_leaves_existing_data_alone(shop):
    before = fingerprint(), Order.objects.count(), Event.objects.count(), User.objects.count()
    output = load(100, 9, "--if-empty")
    assert "not loaded" in output
    assert (fingerprint(), Order.objects.count(), Event.objects.count(), User.objects.count()) == before


def test_without_if_empty_refuses_a_database_with_customers_and_changes_nothing(shop):
    before = fingerprint(), Order.objects.count(), AuditLog.objects.count()
    with pytest.raises(CommandError, match="already has customers"):
        load(10, 9)
    assert (fingerprint(), Order.objects.count(), AuditLog.objects.count()) == before


def test_same_seed_gives_the_same_shop():
    load(50, 21)
    first = fingerprint()
    remove_demo_shop()
    load(50, 21)
    assert fingerprint() == first
    remove_demo_shop()
    load(50, 22)
    assert fingerprint() != first


def test_stats_agree_with_orders_refunds_returns_and_events(shop):
    orders = defaultdict(list)
    for order in Order.objects.all():
        orders[order.customer_id].append(order)
    refunds = defaultdict(Decimal)
    for customer_id, amount in Refund.objects.values_list("customer_id", "amount"):
        refunds[customer_id] += amount
    returns = defaultdict(int)
    for customer_id in Return.objects.values_list("customer_id", flat=True):
        returns[customer_id] += 1
    last_event = {}
    for customer_id, occurred_at in Event.objects.filter(customer__isnull=False).values_list(
        "customer_id", "occurred_at"
    ):
        last_event[customer_id] = max(occurred_at, last_event.get(customer_id, occurred_at))

    for stats in CustomerStats.objects.all():
        kept = [o for o in orders[stats.customer_id] if o.status != "cancelled"]
        spent = sum((o.total - o.refunded_total for o in kept), Decimal(0))
        assert stats.total_spent == spent
        assert stats.order_count == len(kept)
        expected_average = (spent / len(kept)).quantize(CENT) if kept else Decimal(0)
        assert stats.average_order_value == expected_average
        assert stats.first_order_at == min((o.placed_at for o in kept), default=None)
        assert stats.last_order_at == max((o.placed_at for o in kept), default=None)
        assert stats.returns_count == returns[stats.customer_id]
        assert stats.refunded_total == refunds[stats.customer_id]
        assert stats.last_event_at == last_event.get(stats.customer_id)
    assert CustomerStats.objects.filter(order_count=0).exists()  # customers who never bought have a row too


def test_order_totals_add_up(shop):
    lines = defaultdict(list)
    for line in OrderLine.objects.all():
        lines[line.order_id].append(line)
        assert line.total == line.quantity * line.unit_price - line.discount + line.tax
        # 20% KDV on the discounted net amount, to the kuruş
        assert abs(line.tax - (line.quantity * line.unit_price - line.discount) * Decimal("0.2")) <= CENT
        assert 0 <= line.returned_quantity <= line.quantity
    for order in Order.objects.all():
        order_lines = lines[order.pk]
        assert 1 <= len(order_lines) <= 6
        assert order.total == sum(line.total for line in order_lines) + order.shipping_total
        assert order.subtotal == sum(line.quantity * line.unit_price for line in order_lines)
        assert order.discount_total == sum(line.discount for line in order_lines)
        assert order.tax_total == sum(line.tax for line in order_lines)
        goods = order.total - order.shipping_total
        if order.sales_channel != "pos":
            assert order.shipping_total == (Decimal(0) if goods >= 500 else Decimal("49.90"))
        refunded = Refund.objects.filter(order=order).aggregate(s=Sum("amount"))["s"] or Decimal(0)
        assert order.refunded_total == refunded <= order.total
        assert bool(order.discount_codes) == (order.discount_total > 0)
    for refund in Refund.objects.exclude(return_request=None):
        returned = sum(
            rl.order_line.total * rl.quantity / rl.order_line.quantity
            for rl in ReturnLine.objects.filter(return_request=refund.return_request).select_related("order_line")
        )
        assert refund.amount <= returned


def test_status_timeline_matches_the_order(shop):
    for order in Order.objects.prefetch_related("status_changes", "shipments", "payments"):
        changes = list(order.status_changes.all())
        assert changes[0].status == "placed" and changes[-1].status == order.status
        assert [c.occurred_at for c in changes] == sorted(c.occurred_at for c in changes)
        assert all(c.customer_id == order.customer_id for c in changes)
        if any(c.status == "shipped" for c in changes):
            shipment = order.shipments.get()
            details = next(c.details for c in changes if c.status == "shipped")
            assert details == {"carrier": shipment.carrier, "tracking_number": shipment.tracking_number}
        if order.status == "delivered" and order.sales_channel != "pos":
            assert order.shipments.get().delivered_at is not None
        for payment in order.payments.all():
            assert payment.amount == order.total
    assert Shipment.objects.values("carrier").distinct().count() >= 4
    assert (
        OrderStatusChange.objects.filter(status="cancelled").count() == Order.objects.filter(status="cancelled").count()
    )


def test_profiles_identities_consents_and_events(shop):
    web = Source.objects.get(key="web")
    for customer in Customer.objects.all():
        assert customer.search_key == customer_search_key(
            first_name=customer.first_name,
            last_name=customer.last_name,
            email=customer.email,
            phone=customer.phone,
            city=customer.city,
        )
        assert customer.name_key == customer_name_key(first_name=customer.first_name, last_name=customer.last_name)
        kinds = set(customer.identities.values_list("kind", flat=True))
        assert ("email" in kinds) == bool(customer.email) and ("phone" in kinds) == bool(customer.phone)
        if customer.source_id == web.pk:
            assert customer.identities.filter(kind="source_id", source=web).exists()
        for channel in ("email", "sms"):
            latest = customer.consents.filter(channel=channel).order_by("-occurred_at", "-id").first()
            assert getattr(customer, f"consent_{channel}") == (latest.status if latest else "")
    assert not Identity.objects.filter(kind__in=["email", "phone"], source__isnull=False).exists()
    consent = ConsentRecord.objects.first()
    assert consent.iys_channel in ("EPOSTA", "MESAJ") and consent.iys_status in ("ONAY", "RET")
    assert consent.iys_recipient_type == "BIREYSEL" and consent.iys_source
    # browsing events carry the demo's own keys; order events the keys order_create gives them (so the 360
    # timeline shows each order once, as its order rows)
    for name, key in Event.objects.values_list("name", "dedupe_key"):
        assert key.startswith("order:" if name in ("Placed Order", "Ordered Product") else "demo:3:"), (name, key)
    anonymous = Event.objects.filter(customer__isnull=True)
    assert anonymous.exists() and not anonymous.filter(anonymous_id="").exists()
    placed = Event.objects.filter(name="Placed Order").count()
    assert placed == Order.objects.count()
    assert Event.objects.filter(name="Ordered Product").count() == OrderLine.objects.count()
    order = Order.objects.first()
    event = Event.objects.get(name="Placed Order", properties__order_id=order.pk)
    assert event.occurred_at == order.placed_at and Decimal(str(event.properties["value"])) == order.total
    assert (
        Customer.objects.filter(tags__name="vip").exists()
        or not CustomerStats.objects.filter(order_count__gte=15).exists()
    )


def test_bulk_mode_rebuilds_every_index():
    def indexes():
        tables = [model._meta.db_table for model in MODELS.values()]
        with connection.cursor() as cursor:
            return {
                name
                for table in tables
                for name, info in connection.introspection.get_constraints(cursor, table).items()
                if info["index"] or info["foreign_key"] or info["unique"]
            }

    before = indexes()
    result = demo_load(actor=Actor.system(), settings=DemoSettings(customers=30, seed=4, batch_size=10), bulk=True)
    assert result.counts["customer"] == 30
    assert indexes() == before
    assert Customer.objects.count() == 30
    customer = Customer.objects.create(first_name="Yeni")  # sequences point past the loaded ids
    assert customer.pk > Customer.objects.exclude(pk=customer.pk).order_by("-pk").first().pk


def test_data_ends_on_the_until_day():
    load(20, 2, "--until", "2025-06-30")
    last = Order.objects.order_by("-placed_at").first().placed_at
    assert last.date() <= date(2025, 6, 30)


def test_leftover_events_of_the_same_seed_are_refused_not_duplicated(shop):
    Event.objects.filter(customer__isnull=False).delete()  # anonymous visitors' events stay behind
    Order.objects.all().delete()
    Customer.objects.all().delete()
    left = Event.objects.count()
    with pytest.raises(CommandError, match="seed 3"):
        load(10, 3)
    assert Event.objects.count() == left and not Customer.objects.exists()
