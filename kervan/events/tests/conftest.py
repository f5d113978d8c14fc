import datetime as dt
import uuid

import pytest

from kervan.accounts.actors import Actor
from kervan.core.models import Source
from kervan.customers.actions import customer_create


@pytest.fixture
def shop(db):
    return Source.objects.create(key="shopify-main", name="Shopify", kind=Source.Kind.SHOPIFY)


@pytest.fixture
def zeynep(db):
    """A known customer with an email, a phone and a Shopify customer id."""
    return customer_create(
        actor=Actor.system(), first_name="Zeynep", last_name="Kaya", email="zeynep@example.com", phone="05321234567"
    )


@pytest.fixture
def when():
    """An aware timestamp a little in the past, as ISO 8601 with an offset."""

    def make(minutes_ago: int = 5) -> str:
        return (
            (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago))
            .astimezone(dt.timezone(dt.timedelta(hours=3)))
            .isoformat()
        )

    return make


@pytest.fixture
def event(when):
    """A valid track body; override any field with keyword arguments."""

    def make(**fields) -> dict:
        body = {
            "event_id": str(uuid.uuid4()),
            "name": "Viewed Product",
            "occurred_at": when(),
            "properties": {"product_id": "p-1", "price": 349.9},
        }
        body.update(fields)
        return body

    return make
