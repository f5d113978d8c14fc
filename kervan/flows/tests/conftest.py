import datetime as dt
import uuid

import pytest

from kervan.accounts.actors import Actor
from kervan.customers.consent import consent_record
from kervan.customers.tests.factories import make_customer
from kervan.flows.engine import run_due
from kervan.flows.triggers import read_events, scan_all
from kervan.messaging.actions import sender_save
from kervan.messaging.sending import deliver_due


@pytest.fixture(autouse=True)
def _worker_runs_when_the_test_says(settings):
    """Flows and messages move when the test calls `tick`, not as soon as something is queued."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def sender(db):
    return sender_save(actor=Actor.system(), channel="email", address="merhaba@shop.example.com", name="Dükkan")


@pytest.fixture
def shopper(db):
    """A customer who may receive marketing email."""

    def make(**profile):
        customer = make_customer(**profile)
        consent_record(actor=Actor.system(), customer=customer, channel="email", status="granted", source="test")
        customer.refresh_from_db()
        return customer

    return make


@pytest.fixture
def tick():
    """One round of the background work: events into flows, scans, due steps, due messages."""

    def run(*, scan: bool = False) -> dict:
        read_events()
        if scan:
            scan_all()
        outcome: dict = {}
        while moved := run_due(worker="test-worker"):
            for key, n in moved.items():
                outcome[key] = outcome.get(key, 0) + n
        deliver_due(worker="test-sender")
        return outcome

    return run


@pytest.fixture
def track(api, clock):
    """Send one event through the ingestion API, as the shop's site would."""

    def send(event_name: str, customer, **properties) -> None:
        body = {
            "batch": [
                {
                    "type": "track",
                    "event_id": str(uuid.uuid4()),
                    "name": event_name,
                    "customer_id": customer.pk,
                    "occurred_at": (clock.now() - dt.timedelta(seconds=1)).isoformat(),
                    "properties": properties,
                }
            ]
        }
        response = api.post("/events/batch", body)
        assert response.status_code == 202, response.json()

    return send
