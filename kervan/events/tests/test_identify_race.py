"""Two identify calls at once for the same new person (issue 19, rule 6): identify is get-or-create, so the one that
loses the race to create the profile goes on with the winner's, and neither call nor its event batch fails."""

import threading

import pytest
from django.db import connection, connections
from django.test import Client

from kervan.accounts.actors import Actor
from kervan.customers import identity
from kervan.customers.identity import customer_identify
from kervan.customers.models import Customer, Identity
from kervan.events.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def side_by_side(monkeypatch):
    """Make two identify calls meet after each has looked the person up (and found nobody) and before either creates
    them: both then insert the same new identity, and one of them waits on the other's unique index entry."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time: two identify calls cannot race there")
    barrier = threading.Barrier(2, timeout=20)
    create = identity.customer_create

    def create_when_both_are_here(**kwargs):
        barrier.wait()
        return create(**kwargs)

    monkeypatch.setattr(identity, "customer_create", create_when_both_are_here)


def at_once(*calls):
    """Run each call in its own thread (its own database session); return their results, or raise the first error."""
    results, errors = [None] * len(calls), []

    def run(n, call):
        try:
            results[n] = call()
        except Exception as exc:  # the test reports any failure
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_two_identify_calls_for_a_new_email_make_one_customer(side_by_side):
    actor = Actor.system()
    first, second = at_once(
        lambda: customer_identify(actor=actor, email="Deniz.Ak@gmail.com", anonymous_id="tab-1"),
        lambda: customer_identify(actor=actor, email="denizak+shop@googlemail.com", anonymous_id="tab-2"),
    )
    assert first[0].pk == second[0].pk
    assert sorted([first[1], second[1]]) == [False, True]  # one created the profile, the other found it
    customer = Customer.objects.get()
    assert set(customer.identities.values_list("kind", "value")) == {
        ("email", "denizak@gmail.com"),
        ("anonymous", "tab-1"),
        ("anonymous", "tab-2"),
    }
    assert customer.stats.order_count == 0  # the loser's half-made profile (and its stats row) was rolled back


def test_two_event_batches_for_a_new_email_are_both_stored(side_by_side, make_api_key):
    _, secret = make_api_key()
    when = "2026-04-01T10:00:00+03:00"

    def send(batch):
        client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
        response = client.post("/api/v1/events/batch", {"batch": batch}, content_type="application/json")
        return response.status_code, response.json()

    identify_batch = [
        {"type": "identify", "email": "Selin@Example.com", "anonymous_id": "v-1", "traits": {"first_name": "Selin"}},
        {"type": "track", "event_id": "a-1", "name": "Viewed Page", "occurred_at": when, "anonymous_id": "v-1"},
    ]
    track_batch = [
        {"type": "track", "event_id": "b-1", "name": "Added to Cart", "occurred_at": when, "email": "SELİN@EXAMPLE.COM"}
    ]
    results = at_once(lambda: send(identify_batch), lambda: send(track_batch))
    assert [status for status, _body in results] == [202, 202], results
    customer = Customer.objects.get()
    assert customer.email == "selin@example.com"
    assert Identity.objects.filter(kind="email").count() == 1
    assert sorted(Event.objects.filter(customer=customer).values_list("dedupe_key", flat=True)) == [
        "api:a-1",
        "api:b-1",
    ]
