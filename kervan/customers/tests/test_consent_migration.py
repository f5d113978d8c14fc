"""Migration 0006 on a ledger written before consent was per address: hand-typed addresses are normalised and the
cached consent is recomputed for each customer's current address, a refusal winning a tie."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("customers", "0005_email_forms")]
T0 = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)


def test_0006_normalises_addresses_and_recomputes_the_cache():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Customer = apps.get_model("customers", "Customer")
    ConsentRecord = apps.get_model("customers", "ConsentRecord")
    # Today's cache: the latest record of any address, ties by insertion order.
    customer = Customer.objects.create(
        email="a@example.com", phone="+905321112233", consent_sms="granted", consent_email="granted"
    )
    for channel, status, at, address in (
        ("sms", "refused", T0, "0532 111 22 33"),
        ("sms", "granted", T0 + dt.timedelta(days=1), "+905329998877"),
        ("email", "refused", T0, "a@example.com"),
        ("email", "granted", T0, "a@example.com"),
        ("sms", "granted", T0, "not a phone"),
    ):
        ConsentRecord.objects.create(customer=customer, channel=channel, status=status, occurred_at=at, address=address)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    customer.refresh_from_db()
    assert (customer.consent_sms, customer.consent_email) == ("refused", "refused")
    addresses = set(ConsentRecord.objects.filter(channel="sms").values_list("address", flat=True))
    assert addresses == {"+905321112233", "+905329998877", "not a phone"}
