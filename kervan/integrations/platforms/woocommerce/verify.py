"""WooCommerce's webhook signature: X-WC-Webhook-Signature is the base64 HMAC-SHA256 of the raw body with the
webhook's secret (the "Secret" field of WooCommerce › Settings › Advanced › Webhooks)."""

import re
from collections.abc import Mapping

from kervan.integrations.platforms.base import hmac_matches

# What WooCommerce POSTs, unsigned and form-encoded, when a webhook is saved: it only asks whether the address
# answers 2xx (a webhook whose ping fails is not saved).
_PING = re.compile(rb"^webhook_id=\d{1,20}$")


def signature_matches(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    return hmac_matches(secret, body, headers.get("x-wc-webhook-signature", ""), encoding="base64")


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    return "x-wc-webhook-topic" not in headers and bool(_PING.match(body.strip()))
