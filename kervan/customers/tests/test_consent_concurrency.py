"""Two consent writers for one customer at the same moment (issue 19, rule 1): the cache must end up saying what the
ledger says. Real concurrent sessions, so PostgreSQL only."""

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from kervan.accounts.actors import Actor
from kervan.customers.consent import consent_record
from kervan.customers.consent_state import consent_state
from kervan.customers.models import Customer
from kervan.customers.tests.factories import IST, make_customer

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system()
ROUNDS = 40


def test_a_newer_refusal_and_an_older_grant_at_once_leave_the_cache_refused():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time; the race only exists on PostgreSQL")
    when = dt.datetime(2026, 5, 1, 10, 0, tzinfo=IST)
    wrong, errors = [], []
    for n in range(ROUNDS):
        customer = make_customer(phone=f"+9053210{n:05d}")
        start = threading.Barrier(2)

        def write(status, at, customer_id=customer.pk, start=start):
            try:
                copy = Customer.objects.get(pk=customer_id)  # each writer with its own session and its own copy
                start.wait(5)
                consent_record(actor=SYSTEM, customer=copy, channel="sms", status=status, occurred_at=at)
            except Exception as exc:  # the test reports any failure
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [
            threading.Thread(target=write, args=("refused", when + dt.timedelta(minutes=1))),
            threading.Thread(target=write, args=("granted", when)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        customer.refresh_from_db()
        if (customer.consent_sms, consent_state(customer, "sms")) != ("refused", "refused"):
            wrong.append((n, customer.consent_sms, consent_state(customer, "sms")))
    assert not errors, errors
    assert not wrong, f"{len(wrong)} of {ROUNDS} rounds: cache and ledger disagree {wrong}"
