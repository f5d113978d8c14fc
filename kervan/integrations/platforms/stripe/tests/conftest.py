"""Stripe test helpers. Events are built around Stripe's own resource samples (../shared/data/webhooks/stripe):
resource_event.json is a real event envelope, but it wraps a plan; a webhook wraps the resource its `type` names,
so the tests put resource_charge.json, resource_refund.json … into that envelope (and set the metadata naming the
store's order, which the samples leave empty)."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from kervan.accounts.actors import Actor
from kervan.core import clock as kervan_clock
from kervan.customers.tests.factories import make_customer
from kervan.integrations.platforms.stripe.verify import sign
from kervan.integrations.testing import connection_make, sample
from kervan.orders.actions.orders import NewOrder, order_create

SECRET = "whsec_test_kervan"
SECRET_KEY = "sk_test_kervan"
CREATED = dt.datetime.fromtimestamp(1234567890, dt.UTC)  # the samples' `created`


def resource(name: str) -> dict:
    return json.loads(sample(f"stripe/resource_{name}.json"))


def fixture_resource(name: str) -> dict:
    return json.loads(sample("stripe/fixtures3.json"))["resources"][name]


def event(kind: str, obj: dict, *, event_id: str = "", created: int = 1234567890) -> bytes:
    envelope = json.loads(sample("stripe/resource_event.json"))
    envelope["type"] = kind
    envelope["data"]["object"] = obj
    envelope["id"] = event_id or f"evt_{kind}_{obj.get('id')}"
    envelope["created"] = created
    return json.dumps(envelope).encode()


def signed(body: bytes, *, secret: str = SECRET, at: int | None = None) -> dict:
    at = int(kervan_clock.now().timestamp()) if at is None else at
    return {"Stripe-Signature": f"t={at},v1={sign(secret, at, body)}"}


@pytest.fixture
def stripe(db):
    return connection_make("stripe", name="Stripe", credentials={"secret_key": SECRET_KEY, "webhook_secret": SECRET})


@pytest.fixture
def shop(db):
    """The store whose orders the payments name (its own platform's folder is not needed: the order is made
    through kervan.orders' action, as any store's sync would)."""
    return connection_make("shopify", name="Shop")


def make_store_order(shop, *, external_id="820982911946154508", number="#1001", total="1.00", currency="USD"):
    order, _created = order_create(
        actor=Actor.system(),
        new_order=NewOrder(
            customer=make_customer(),
            lines=[{"title": "Kupa", "quantity": 1, "unit_price": Decimal(total)}],
            placed_at=CREATED - dt.timedelta(hours=1),
            currency=currency,
            source=shop.source,
            external_id=external_id,
            number=number,
        ),
    )
    return order
