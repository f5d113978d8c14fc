"""Shopify's webhook signature: X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw body, keyed with the
app's client secret (the connection's webhook_secret), compared in constant time before anything is read."""

from collections.abc import Mapping

from kervan.integrations.platforms.base import body_digest, hmac_matches

SIGNATURE_HEADER = "x-shopify-hmac-sha256"
TOPIC_HEADER = "x-shopify-topic"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"


def signature_valid(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    return hmac_matches(secret, body, headers.get(SIGNATURE_HEADER, ""))


def delivery_key(headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
    """(topic, delivery id): Shopify keeps X-Shopify-Webhook-Id when it retries a delivery, so a retry is stored
    once; without it, the body's digest."""
    topic = headers.get(TOPIC_HEADER, "").strip().lower()
    return topic, headers.get(WEBHOOK_ID_HEADER, "").strip() or body_digest(body)
