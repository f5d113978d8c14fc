"""An import that changes a customer's phone or email (issue 19, rule 3): a consent in the file is recorded for the
address in the file, and the cached consent is the state of the customer's new address."""

import datetime as dt

import pytest

from kervan.accounts.actors import Actor
from kervan.customers.consent import consent_record
from kervan.customers.consent_state import consent_state
from kervan.customers.models import ConsentRecord, Customer
from kervan.customers.tests.factories import IST, make_customer

from .conftest import csv_file

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
T0 = dt.datetime(2026, 5, 1, 10, 0, tzinfo=IST)


def test_a_consent_in_the_file_is_for_the_file_s_new_phone(run_import):
    customer = make_customer(email="a@example.com", phone="+905321112233")
    consent_record(actor=SYSTEM, customer=customer, channel="sms", status="refused", occurred_at=T0)
    job = run_import(
        "customers", csv_file([["E-posta", "Telefon", "SMS izni"], ["a@example.com", "0532 999 88 77", "hayır"]])
    )
    assert job.updated == 1
    customer.refresh_from_db()
    assert customer.phone == "+905329998877" and customer.consent_sms == "refused"
    assert ConsentRecord.objects.filter(customer=customer, address="+905329998877", status="refused").exists()


def test_a_new_phone_without_consent_in_the_file_takes_the_ledger_s_state(run_import):
    unknown = make_customer(email="b@example.com", phone="+905321112244")
    known = make_customer(email="c@example.com", phone="+905321112255")
    for customer in (unknown, known):
        consent_record(actor=SYSTEM, customer=customer, channel="sms", status="granted", occurred_at=T0)
    consent_record(
        actor=SYSTEM, customer=known, channel="sms", status="refused", occurred_at=T0, address="0532 999 88 66"
    )
    rows = [["E-posta", "Telefon"], ["b@example.com", "0532 999 88 55"], ["c@example.com", "0532 999 88 66"]]
    assert run_import("customers", csv_file(rows)).updated == 2
    assert Customer.objects.get(pk=unknown.pk).consent_sms == ""  # never asked at the new number
    known = Customer.objects.get(pk=known.pk)
    assert known.consent_sms == "refused" == consent_state(known, "sms")  # its new number had said no before
