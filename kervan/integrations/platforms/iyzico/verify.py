"""iyzico's webhook signature, X-IYZ-SIGNATURE-V3: lower-case hex HMAC-SHA256, keyed with the merchant's secret
key, of fields of the notification joined without separators (iyzico's webhook documentation):

  direct (API payments):       secretKey + iyziEventType + paymentId + paymentConversationId + status
  HPP (Checkout Form, token):  secretKey + iyziEventType + iyziPaymentId + token + paymentConversationId + status
  subscription notifications:  merchantId + secretKey + iyziEventType + subscriptionReferenceCode
                               + orderReferenceCode + customerReferenceCode

For subscriptions iyzico's prose puts the secret key first while every code sample of theirs puts merchantId
first; both orders are accepted (the secret key is in both, so neither can be forged). Numbers (paymentId,
merchantId) are signed as their decimal digits. X-Iyz-Signature and -V2 are deprecated and not read.
"""

import hashlib
import hmac


def _text(value) -> str:
    return "" if value is None else str(value)


def is_subscription(payload: dict) -> bool:
    return _text(payload.get("iyziEventType")).startswith("subscription.")


def signed_strings(payload: dict, secret: str, merchant_id: str = "") -> list[str]:
    """The strings iyzico may have signed for this notification (one, or two for subscriptions)."""
    event = _text(payload.get("iyziEventType"))
    if is_subscription(payload):
        rest = event + "".join(
            _text(payload.get(k)) for k in ("subscriptionReferenceCode", "orderReferenceCode", "customerReferenceCode")
        )
        merchant = merchant_id or _text(payload.get("merchantId"))
        return [merchant + secret + rest, secret + merchant + rest] if merchant else []
    conversation, status = _text(payload.get("paymentConversationId")), _text(payload.get("status"))
    if payload.get("token"):
        return [secret + event + _text(payload.get("iyziPaymentId")) + _text(payload["token"]) + conversation + status]
    return [secret + event + _text(payload.get("paymentId")) + conversation + status]


def sign(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signature_valid(secret: str, payload: dict, signature: str, merchant_id: str = "") -> bool:
    if not secret or not signature:
        return False
    given = signature.strip().lower()
    return any(hmac.compare_digest(sign(secret, text), given) for text in signed_strings(payload, secret, merchant_id))
