"""Shared by the Shopify tests: a connection, headers signed as Shopify signs them (the header names of Shopify's
published example delivery), and the samples read from ../shared/data/webhooks/shopify."""

import base64
import hashlib
import hmac
import uuid

import orjson

from kervan.integrations import testing

SECRET = "test-shopify-client-secret"
TOKEN = "shpat_test_token"
SHOP = "https://kervan-test.myshopify.com"


def example_headers() -> dict[str, str]:
    """The example delivery's headers (delivery_headers_example.txt), by name."""
    lines = testing.sample("shopify/delivery_headers_example.txt").decode().splitlines()
    return dict(line.split(": ", 1) for line in lines[1:] if ": " in line)


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def headers(body: bytes, topic: str, *, webhook_id: str | None = None, secret: str = SECRET) -> dict[str, str]:
    """Shopify's delivery headers for `body`: the example's, with this topic, a fresh webhook id and the HMAC."""
    found = {k: v for k, v in example_headers().items() if k.lower().startswith("x-shopify-")}
    found.update({"X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": sign(body, secret),
                  "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4())})  # fmt: skip
    return found


def connection(**credentials):
    made = testing.connection_make(
        "shopify", base_url=SHOP, credentials={"access_token": TOKEN, "webhook_secret": SECRET, **credentials}
    )
    made.source.currency = "USD"
    made.source.save(update_fields=["currency"])
    return made


def payload(name: str) -> dict:
    return orjson.loads(testing.sample(f"shopify/{name}"))


def deliver(conn, body: bytes | dict, topic: str, **kwargs):
    """Deliver through the real intake (signed) and process; returns the intake's response."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    response = testing.deliver(conn, raw, headers(raw, topic, **kwargs))
    testing.process_all()
    return response
