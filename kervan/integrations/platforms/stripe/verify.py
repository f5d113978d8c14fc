"""Stripe's webhook signature: the header `Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>…]`, where each v1 is
the lower-case hex HMAC-SHA256, keyed with the endpoint's signing secret (whsec_…), of "<t>.<raw body>". Several
v1 values come while the secret is being rolled: any one matching is enough. A signature older (or newer) than
TOLERANCE is refused, so a captured delivery cannot be replayed later; the time is kervan.core.clock's."""

import hashlib
import hmac

from kervan.core import clock

TOLERANCE = 300  # seconds, Stripe's own libraries' default


def parse_header(header: str) -> tuple[int | None, list[str]]:
    """(t, [v1 signatures]) of a Stripe-Signature header; t None when missing or not a number."""
    timestamp, signatures = None, []
    for item in (header or "").split(","):
        key, _sep, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value.strip())
    return timestamp, signatures


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, header: str, body: bytes, *, tolerance: int = TOLERANCE) -> bool:
    if not secret:
        return False
    timestamp, signatures = parse_header(header)
    if timestamp is None or not signatures:
        return False
    if abs(clock.now().timestamp() - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
