"""The one signature on what Kervan sends to other systems (outgoing webhooks, a flow's webhook step).

A receiver checks a request in three lines: take `X-Kervan-Timestamp` and the raw body, compute
HMAC-SHA256(secret, "<timestamp>.<body>") in hex, compare it (in constant time) with the hex after "sha256=" in
`X-Kervan-Signature`, and refuse a timestamp more than a few minutes old. The timestamp is inside the signed text,
so a captured request cannot be replayed later with a fresh timestamp.
"""

import hashlib
import hmac

from kervan.core import clock

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "signed_headers", "verify"]

SIGNATURE_HEADER = "X-Kervan-Signature"
TIMESTAMP_HEADER = "X-Kervan-Timestamp"
TOLERANCE_SECONDS = 300


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def sign(secret: str | bytes, body: bytes, *, timestamp: int) -> str:
    """'sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">'."""
    message = f"{int(timestamp)}.".encode() + body
    return "sha256=" + hmac.new(_bytes(secret), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str | bytes, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The timestamp and signature headers for `body`, signed now (Unix seconds by the core clock) unless told."""
    stamp = int(clock.now().timestamp()) if timestamp is None else int(timestamp)
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(secret, body, timestamp=stamp)}


def verify(
    secret: str | bytes, body: bytes, *, timestamp: str, signature: str, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """True if `signature` is ours for `body` at `timestamp`, and the timestamp is within `tolerance` seconds of now."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(clock.now().timestamp() - stamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp=stamp), signature or "")
