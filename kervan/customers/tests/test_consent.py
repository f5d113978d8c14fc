"""Consent you can send on (issue 19): the state for an address is the latest record for that address, a refusal
wins a tie, the customer's cached state describes the address messages go to now, and no stale copy of a customer
can overturn the ledger."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kervan.accounts.actors import Actor
from kervan.core.errors import KervanError
from kervan.customers.actions import customer_merge, customer_update
from kervan.customers.consent import consent_record
from kervan.customers.consent_state import consent_latest, consent_state
from kervan.customers.models import ConsentRecord, Customer
from kervan.customers.selectors import CustomerFilters, customer_360, customer_list
from kervan.customers.tests.factories import IST, make_customer

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
T0 = dt.datetime(2026, 5, 1, 10, 0, tzinfo=IST)
PRIMARY, OTHER = "+905321112233", "+905329998877"


def record(customer, channel, status, at, **extra):
    return consent_record(actor=SYSTEM, customer=customer, channel=channel, status=status, occurred_at=at, **extra)


def cached(customer, channel="sms"):
    return Customer.objects.values_list(f"consent_{channel}", flat=True).get(pk=customer.pk)


def granted_sms_ids():
    return set(
        customer_list(actor=SYSTEM, filters=CustomerFilters(consent_sms="granted"))[0].values_list("pk", flat=True)
    )


# Rule 1: the cache is recomputed from the ledger under a lock, never from the caller's copy.


def test_a_stale_copy_cannot_overturn_the_ledger():
    customer = make_customer(phone=PRIMARY)
    old = Customer.objects.get(pk=customer.pk)
    record(old, "sms", "refused", T0)
    record(Customer.objects.get(pk=customer.pk), "sms", "granted", T0 + dt.timedelta(hours=1))
    record(old, "sms", "refused", T0 + dt.timedelta(hours=2))  # `old` still believes "refused" is cached
    assert cached(customer) == "refused" == consent_state(customer, "sms")


def test_a_record_without_address_takes_the_current_one_not_the_copy_s():
    customer = make_customer(phone=PRIMARY)
    old = Customer.objects.get(pk=customer.pk)
    customer_update(actor=SYSTEM, customer=customer, phone=OTHER)
    assert record(old, "sms", "granted", T0).address == OTHER
    assert cached(customer) == "granted"


def test_a_profile_save_from_a_stale_copy_keeps_the_cache_true():
    customer = make_customer(phone=PRIMARY)
    old = Customer.objects.get(pk=customer.pk)
    record(customer, "sms", "refused", T0)
    customer_update(actor=SYSTEM, customer=old, city="Rize")  # its save() writes the copy's consent_sms = ""
    assert cached(customer) == "refused"


# Rule 3: a record names its address; the customer's state is the state of the address messages go to.


def test_consent_for_another_number_does_not_grant_the_primary_one():
    customer = make_customer(phone=PRIMARY)
    record(customer, "sms", "refused", T0)
    newer = record(customer, "sms", "granted", T0 + dt.timedelta(days=1), address="0532 999 88 77")
    assert cached(customer) == "refused" == consent_state(customer, "sms")
    assert newer.address == OTHER  # normalised like identities
    assert customer.pk not in granted_sms_ids()
    assert consent_state(customer, "sms", address="0532 999 88 77") == "granted"
    assert consent_state(customer, "sms", address=OTHER) == "granted"
    assert consent_state(customer, "sms", address="0532 111 22 33") == "refused"
    assert consent_state(customer, "whatsapp") == ""  # never asked on that channel
    assert consent_state(customer, "sms", purpose="transactional") == ""
    with pytest.raises(KervanError) as refused:
        record(customer, "sms", "granted", T0, address="not a phone")
    assert refused.value.field == "address"


def test_the_cache_follows_a_changed_phone_and_email():
    customer = make_customer(phone=PRIMARY, email="first@example.com")
    record(customer, "sms", "refused", T0)
    record(customer, "sms", "granted", T0 + dt.timedelta(days=1), address=OTHER)
    record(customer, "email", "granted", T0)
    customer_update(actor=SYSTEM, customer=customer, phone="0532 999 88 77")
    assert cached(customer) == "granted" == customer.consent_sms == consent_state(customer, "sms")
    assert customer.pk in granted_sms_ids()
    customer_update(actor=SYSTEM, customer=customer, phone=PRIMARY)
    assert cached(customer) == "refused" == consent_state(customer, "sms")
    customer_update(actor=SYSTEM, customer=customer, email="second@example.com")
    assert cached(customer, "email") == "" == consent_state(customer, "email")  # never asked at this address
    assert consent_state(customer, "email", address="First@Example.com") == "granted"


def test_push_has_no_address_and_is_kept_per_customer():
    customer = make_customer(phone=PRIMARY)
    assert record(customer, "push", "granted", T0).address == ""
    customer_update(actor=SYSTEM, customer=customer, phone=OTHER)
    assert cached(customer, "push") == "granted" == consent_state(customer, "push")


def test_a_merge_keeps_each_record_for_its_address():
    survivor = make_customer(email="survivor@example.com")
    merged = make_customer(email="merged@example.com")
    record(survivor, "email", "refused", T0)
    record(merged, "email", "granted", T0 + dt.timedelta(days=1))
    customer_merge(actor=SYSTEM, survivor=survivor, merged=merged)
    survivor.refresh_from_db()
    assert survivor.consent_email == "refused" == consent_state(survivor, "email")
    assert consent_state(survivor, "email", address="merged@example.com") == "granted"
    assert customer_list(actor=SYSTEM, filters=CustomerFilters(consent_email="refused"))[0].filter(pk=survivor.pk)


def test_a_merge_that_fills_the_phone_takes_its_consent():
    survivor = make_customer()
    merged = make_customer(phone=PRIMARY)
    record(merged, "sms", "granted", T0)
    customer_merge(actor=SYSTEM, survivor=survivor, merged=merged)
    assert cached(survivor) == "granted"


# Rule 4: on a tie in time a refusal wins, whatever the insertion order, also after a merge.


@pytest.mark.parametrize("order", [("granted", "refused"), ("refused", "granted")])
def test_a_refusal_wins_a_tie(order):
    customer = make_customer(phone=PRIMARY)
    for status in order:
        record(customer, "sms", status, T0)
    assert cached(customer) == "refused" == consent_state(customer, "sms")
    assert consent_latest(customer)["sms"]["marketing"].status == "refused"


def test_a_refusal_wins_a_tie_on_merge():
    survivor = make_customer(email="shared@example.com")
    merged = make_customer(email="merged2@example.com")
    record(survivor, "email", "refused", T0)
    # The merged profile also heard from the survivor's address, at the same second, inserted later.
    record(merged, "email", "granted", T0, address="shared@example.com")
    customer_merge(actor=SYSTEM, survivor=survivor, merged=merged)
    assert cached(survivor, "email") == "refused" == consent_state(survivor, "email")


# Rule 7: the 360 reads the deciding record per channel and purpose directly, whatever the history.


def test_the_360_finds_an_old_decision_under_a_long_history(api):
    customer = make_customer(phone=PRIMARY)
    record(customer, "sms", "refused", T0 - dt.timedelta(days=400))
    record(customer, "email", "granted", T0 - dt.timedelta(days=500), purpose="transactional")
    ConsentRecord.objects.bulk_create(
        ConsentRecord(
            customer=customer,
            channel="email",
            status="granted" if i % 2 else "refused",
            occurred_at=T0 + dt.timedelta(minutes=i),
            address=customer.email,
        )
        for i in range(250)
    )
    with CaptureQueriesContext(connection) as queries:
        latest = consent_latest(customer)
    assert len(queries) == 1
    assert latest["sms"]["marketing"].status == "refused" == cached(customer)
    assert latest["email"]["marketing"].occurred_at == T0 + dt.timedelta(minutes=249)
    assert latest["email"]["transactional"].status == "granted"
    assert latest["call"] == {"marketing": None, "transactional": None}
    view = customer_360(actor=SYSTEM, customer=customer)
    assert view.consents["sms"]["marketing"].status == "refused"
    consents = api.get(f"/customers/{customer.pk}").json()["consents"]
    assert consents["sms"] == {"marketing": "refused", "transactional": "unknown"}
    assert consents["email"] == {"marketing": "granted", "transactional": "granted"}


def test_the_360_shows_the_state_of_the_current_address():
    customer = make_customer(phone=PRIMARY)
    record(customer, "sms", "refused", T0)
    record(customer, "sms", "granted", T0 + dt.timedelta(days=1), address=OTHER)
    assert consent_latest(customer)["sms"]["marketing"].status == "refused"


def test_a_refusal_for_one_form_of_a_mailbox_covers_every_form():
    customer = make_customer(email="Ayse.Kaya@gmail.com")
    record(customer, "email", "granted", T0)
    record(customer, "email", "refused", T0 + dt.timedelta(days=1), address="AyseKaya+shop@googlemail.com")
    assert cached(customer, "email") == "refused"
    assert consent_state(Customer.objects.get(pk=customer.pk), "email", address="a.y.s.e.kaya@gmail.com") == "refused"
    assert Customer.objects.get(pk=customer.pk).email == "ayse.kaya@gmail.com"  # still shown as typed
