"""The data migration customers 0005_email_forms, on a database that holds several forms of the same mailboxes:
the database is taken back to 0004, filled through the historical models, and migrated forward."""

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("customers", "0004_plain_indexes")
AFTER = ("customers", "0005_email_forms")
UTC = dt.UTC


def at(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 12, 0, tzinfo=UTC)


@pytest.fixture
def migrate():
    """migrate(target) → the historical apps once the database is at `target`; the latest migrations again after."""
    executor = MigrationExecutor(connection)

    def to(target):
        executor.loader.build_graph()
        executor.migrate([target])
        executor.loader.build_graph()
        return executor.loader.project_state(list(executor.loader.applied_migrations)).apps

    try:
        yield to
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


class Shop:
    """Rows written the way the code before 0005 wrote them (emails lower-cased with str.lower()), through the
    historical models."""

    def __init__(self, apps):
        self.apps = apps
        self.model = apps.get_model
        self.source = self.model("core", "Source").objects.create(key="web", name="Web", kind="shopify")
        self.orders = 0

    def customer(self, email: str, *, emails=(), **fields):
        customer = self.model("customers", "Customer").objects.create(email=email, **fields)
        for value in (email, *emails):
            self.model("customers", "Identity").objects.create(customer=customer, kind="email", value=value)
        self.model("customers", "CustomerStats").objects.create(customer=customer, currency="TRY")
        return customer

    def history(self, customer, *, total: str, placed: dt.datetime, seen: dt.datetime, consent: str, tag: str):
        """One order (with a status change, a return and a refund), an event, a note, an email consent and a tag."""
        self.orders += 1
        order = self.model("orders", "Order").objects.create(
            source=self.source,
            number=f"#{self.orders}",
            customer=customer,
            currency="TRY",
            total=Decimal(total),
            placed_at=placed,
        )
        self.model("orders", "OrderStatusChange").objects.create(
            order=order, customer_id=customer.pk, status="placed", occurred_at=placed
        )
        ret = self.model("orders", "Return").objects.create(
            order=order, customer_id=customer.pk, reason="other", created_at=placed
        )
        self.model("orders", "Refund").objects.create(
            order=order, customer_id=customer.pk, return_request=ret, amount=Decimal("1.00"), occurred_at=placed
        )
        self.model("events", "Event").objects.create(
            dedupe_key=f"e-{customer.pk}", customer=customer, name="Viewed Page", occurred_at=seen
        )
        self.model("customers", "CustomerNote").objects.create(customer=customer, body=f"note {customer.pk}")
        self.model("customers", "ConsentRecord").objects.create(
            customer=customer, channel="email", status=consent, occurred_at=seen, address=customer.email
        )
        customer.tags.add(self.model("customers", "Tag").objects.get_or_create(name=tag)[0])
        self.model("customers", "CustomerStats").objects.filter(customer=customer).update(
            order_count=1,
            total_spent=Decimal(total),
            average_order_value=Decimal(total),
            first_order_at=placed,
            last_order_at=placed,
            returns_count=1,
            refunded_total=Decimal("1.00"),
            last_event_at=seen,
        )


@pytest.mark.parametrize("batch", [2000, 2], ids=["one batch", "forms met across batches"])
def test_forms_of_one_mailbox_merge_into_the_oldest_profile(migrate, monkeypatch, batch):
    monkeypatch.setattr(importlib.import_module("kervan.customers.migrations.0005_email_forms"), "BATCH", batch)
    shop = Shop(migrate(BEFORE))
    # One Gmail mailbox, three profiles: dots, a +tag and googlemail.com.
    ayse = shop.customer("ayse.kaya@gmail.com", first_name="Ayşe")
    shop.history(ayse, total="100.10", placed=at(2024, 6, 1), seen=at(2024, 6, 2), consent="granted", tag="vip")
    tagged = shop.customer("aysekaya+shop@googlemail.com", last_name="Kaya", city="Bursa")
    shop.history(tagged, total="100.15", placed=at(2023, 5, 1), seen=at(2025, 1, 1), consent="refused", tag="bülten")
    dotted = shop.customer("a.y.s.e.kaya@gmail.com")
    earlier = shop.customer("ayse@old.example.com")  # merged into `tagged` by staff before
    shop.model("customers", "Customer").objects.filter(pk=earlier.pk).update(merged_into=tagged)
    # "İSMAİL" typed with Turkish Caps Lock and lower-cased by str.lower(), then typed without it.
    caps = shop.customer("i\u0307smai\u0307l@example.com")
    plain = shop.customer("ismail@example.com", city="İzmir")
    # One letter in NFD, then NFC.
    nfd = shop.customer("s\u0327ule@example.com")
    nfc = shop.customer("şule@example.com")
    # Nothing to merge: a domain to write in ASCII, one customer holding two forms of its mailbox, an address
    # today's rules refuse, a plain one.
    idn = shop.customer("mehmet@şirket.com.tr")
    twice = shop.customer("can.er@gmail.com", emails=["caner@gmail.com"])
    refused = shop.customer("odd@exa_mple.com")
    untouched = shop.customer("plain@example.com")
    untouched_at = untouched.updated_at

    apps = migrate(AFTER)
    customers = apps.get_model("customers", "Customer").objects
    identities = apps.get_model("customers", "Identity").objects
    merges = apps.get_model("customers", "CustomerMerge").objects
    audit_log = apps.get_model("core", "AuditLog").objects

    def emails_of(customer):
        return sorted(identities.filter(customer_id=customer.pk, kind="email").values_list("value", flat=True))

    survivor = customers.get(pk=ayse.pk)
    assert survivor.merged_into_id is None
    assert (survivor.email, survivor.first_name, survivor.last_name, survivor.city) == (
        "ayse.kaya@gmail.com",  # shown as typed
        "Ayşe",
        "Kaya",  # empty fields filled from the merged profiles
        "Bursa",
    )
    assert emails_of(survivor) == ["aysekaya@gmail.com"]
    merged_ids = {tagged.pk, dotted.pk}
    assert set(customers.filter(merged_into_id=ayse.pk).values_list("pk", flat=True)) == merged_ids | {
        earlier.pk  # merged_into names a survivor, never a merged profile
    }
    records = merges.filter(survivor_id=ayse.pk)
    assert set(records.values_list("merged_id", flat=True)) == merged_ids
    assert records.get(merged_id=tagged.pk).snapshot["email"] == "aysekaya+shop@googlemail.com"
    assert records.get(merged_id=tagged.pk).snapshot["tags"] == ["bülten"]
    assert audit_log.filter(action="merge", customer_id=ayse.pk).count() == 2
    assert audit_log.filter(action="merge", customer_id=tagged.pk).get().changes == {"merged_into": [None, ayse.pk]}
    for app, model in (
        ("orders", "Order"),
        ("orders", "OrderStatusChange"),
        ("orders", "Return"),
        ("orders", "Refund"),
        ("events", "Event"),
        ("customers", "CustomerNote"),
        ("customers", "ConsentRecord"),
    ):
        rows = apps.get_model(app, model).objects
        assert set(rows.values_list("customer_id", flat=True)) == {ayse.pk}, model
    assert sorted(survivor.tags.values_list("name", flat=True)) == ["bülten", "vip"]
    assert survivor.consent_email == "refused"  # the latest record of the two profiles
    stats = apps.get_model("customers", "CustomerStats").objects
    folded = stats.get(customer_id=ayse.pk)
    assert (folded.order_count, folded.total_spent, folded.returns_count, folded.refunded_total) == (
        2,
        Decimal("200.25"),
        2,
        Decimal("2.00"),
    )
    assert folded.average_order_value == Decimal("100.12")  # 100.125, half-even
    assert (folded.first_order_at, folded.last_order_at, folded.last_event_at) == (
        at(2023, 5, 1),
        at(2024, 6, 1),
        at(2025, 1, 1),
    )
    emptied = stats.get(customer_id=tagged.pk)
    assert (emptied.order_count, emptied.total_spent, emptied.first_order_at) == (0, Decimal("0"), None)

    # The oldest keeps its id and gets the address in its right form; the identity row kept is its own.
    ismail = customers.get(pk=caps.pk)
    assert (ismail.email, ismail.city, ismail.merged_into_id) == ("ismail@example.com", "İzmir", None)
    assert "ismail@example.com" in ismail.search_key
    assert customers.get(pk=plain.pk).merged_into_id == caps.pk
    assert emails_of(ismail) == ["ismail@example.com"] and not emails_of(plain)
    assert customers.get(pk=nfd.pk).email == "şule@example.com"
    assert customers.get(pk=nfc.pk).merged_into_id == nfd.pk

    assert customers.get(pk=idn.pk).email == "mehmet@xn--irket-idb.com.tr"
    assert emails_of(idn) == ["mehmet@xn--irket-idb.com.tr"]
    assert emails_of(twice) == ["caner@gmail.com"] and customers.get(pk=twice.pk).merged_into_id is None
    assert customers.get(pk=refused.pk).email == "odd@exa_mple.com" and emails_of(refused) == ["odd@exa_mple.com"]
    assert customers.get(pk=untouched.pk).updated_at == untouched_at
    assert customers.filter(merged_into__isnull=True).count() == 7
    assert merges.count() == 4


def test_running_again_changes_nothing(migrate):
    """An interrupted run is simply run again (each batch commits on its own): a second pass finds nothing to do."""
    shop = Shop(migrate(BEFORE))
    first = shop.customer("deniz.ak@gmail.com")
    shop.customer("denizak@googlemail.com")
    migrate(AFTER)
    migrate(BEFORE)  # 0005 undoes nothing: the second pass sees what the first one left
    apps = migrate(AFTER)
    assert apps.get_model("customers", "CustomerMerge").objects.count() == 1
    identities = apps.get_model("customers", "Identity").objects
    assert list(identities.values_list("customer_id", "value")) == [(first.pk, "denizak@gmail.com")]
