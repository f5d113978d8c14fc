import base64
import hashlib
import hmac
import json

import pytest

from kervan.core.models import Source
from kervan.integrations import platforms
from kervan.integrations.models import Connection

TOKEN = "stub-secret"


@pytest.fixture
def stub(monkeypatch, db):
    """A connection of the stub platform (kervan/integrations/tests/stub_platform.py)."""
    monkeypatch.setitem(platforms.MODULES, "stub", "kervan.integrations.tests.stub_platform")
    source = Source.objects.create(key="stub-shop", name="Stub shop", kind=Source.Kind.SHOPIFY)
    connection = Connection(platform="stub", name="Stub shop", base_url="http://127.0.0.1:9", source=source)
    connection.credentials = {"token": TOKEN, "account": "acme"}
    connection.save()
    return connection


def signed(payload: dict, *, secret: str = TOKEN, topic: str = "records", delivery: str = "") -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {"X-Stub-Signature": signature, "X-Stub-Topic": topic}
    if delivery:
        headers["X-Stub-Id"] = delivery
    return body, headers


def an_order(**changes) -> dict:
    order = {
        "kind": "order",
        "id": "820982911946154508",
        "number": "#1001",
        "placed_at": "2026-11-02T10:00:00+03:00",
        "updated_at": "2026-11-02T10:00:00+03:00",
        "currency": "TRY",
        "status": "placed",
        "customer": {"id": "7001", "email": "Zeynep.Kaya@example.com", "first_name": "Zeynep", "last_name": "Kaya"},
        "lines": [
            {"sku": "KUPA-1", "title": "Kupa", "quantity": 2, "price": "150.00"},
            {"sku": "", "title": "Hediye paketi", "quantity": 1, "price": "20.00"},
        ],
        "shipping": "29.90",
    }
    order.update(changes)
    return order
