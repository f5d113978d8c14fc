"""Magento 2 has no signed webhooks of its own: Kervan accepts deliveries that prove the connection's shared secret
either way a sender can —

- X-Kervan-Signature: sha256=<hex HMAC-SHA256 of the raw body with the secret> (a module that can compute it: the
  observer module described in the platform's README, or Mageplaza Webhook's custom header with a computed value);
- X-Magento-Webhook-Secret: <the secret itself> (senders that only add fixed headers: Adobe Commerce Webhooks'
  <headers> in webhooks.xml, or an HTTP-integration extension). Weaker (the secret travels with every request), so
  only over HTTPS.
"""

import hmac
from collections.abc import Mapping

from kervan.integrations.platforms.base import hmac_matches


def signature_matches(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    if not secret:
        return False
    signature = headers.get("x-kervan-signature", "").strip()
    if signature:
        scheme, _eq, value = signature.partition("=")
        return scheme.lower() == "sha256" and hmac_matches(secret, body, value.lower(), encoding="hex")
    given = headers.get("x-magento-webhook-secret", "")
    return bool(given) and hmac.compare_digest(given.strip().encode(), secret.encode())
