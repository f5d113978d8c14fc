"""iyzico's API (https://api.iyzipay.com, or the connection's api_base in tests), authenticated with IYZWSv2:

  randomKey  a fresh random string per request (also sent as x-iyzi-rnd)
  signature  hex HMAC-SHA256, keyed with the secret key, of randomKey + the URI's path (no query) + the JSON body
  header     Authorization: IYZWSv2 base64("apiKey:<api key>&randomKey:<randomKey>&signature:<signature>")

Answers are JSON with "status": "success" | "failure" (errorCode, errorMessage); prices are JSON numbers, read as
Decimal (never float). Every call goes through kervan.core.http (timeouts, retries of 429/5xx)."""

import base64
import hashlib
import hmac
import json
import secrets
from decimal import Decimal
from urllib.parse import urlsplit

from kervan.core import clock, http

API_BASE = "https://api.iyzipay.com"
TIMEOUT = http.Timeout(connect=5, read=30)
REFUSED_CODES = {"1000", "1001"}  # "Geçersiz imza" (bad signature), "api bilgileri bulunamadı" (unknown API key)


class Refused(Exception):
    """iyzico answered "failure": the message is iyzico's errorMessage (with its errorCode)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} ({code})" if code else message)
        self.code = code


def api_base(connection) -> str:
    return (connection.credentials.get("api_base") or API_BASE).rstrip("/")


def authorization(api_key: str, secret_key: str, uri: str, body: str, random_key: str) -> str:
    path = urlsplit(uri).path
    signature = hmac.new(secret_key.encode(), (random_key + path + body).encode(), hashlib.sha256).hexdigest()
    credentials = f"apiKey:{api_key}&randomKey:{random_key}&signature:{signature}"
    return "IYZWSv2 " + base64.b64encode(credentials.encode()).decode()


def post(connection, path: str, payload: dict) -> dict:
    """POST `payload` to `path` and the answer (Decimal prices); raise Refused on a "failure" answer, or
    kervan.core.http's errors when iyzico cannot be reached or answers an HTTP error (401/403 included)."""
    creds = connection.credentials
    body = json.dumps(payload, separators=(",", ":"))
    random_key = f"{int(clock.now().timestamp() * 1000)}{secrets.token_hex(4)}"
    response = http.request(
        "POST",
        api_base(connection) + path,
        body=body.encode(),
        headers={
            "Authorization": authorization(
                creds.get("api_key", ""), creds.get("secret_key", ""), path, body, random_key
            ),
            "x-iyzi-rnd": random_key,
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
        timeout=TIMEOUT,
        idempotent=True,  # lookups only: asking again is harmless
    )
    answer = json.loads(response.body, parse_float=Decimal)
    if not isinstance(answer, dict):
        raise Refused("", "not a JSON object")
    if answer.get("status") != "success":
        raise Refused(
            str(answer.get("errorCode") or ""), str(answer.get("errorMessage") or "status " + str(answer.get("status")))
        )
    return answer


def payment_detail(connection, payment_id: str, conversation_id: str) -> dict:
    """An API payment (direct format): its amount, currency, installments and basket id."""
    payload = {"locale": "tr", "conversationId": conversation_id, "paymentId": payment_id,
               "paymentConversationId": conversation_id}  # fmt: skip
    return post(connection, "/payment/detail", payload)


def checkout_form_detail(connection, token: str, conversation_id: str) -> dict:
    """A Checkout Form / Pay with iyzico payment (HPP format), by the form's token."""
    return post(connection, "/payment/iyzipos/checkoutform/auth/ecom/detail",
                {"locale": "tr", "conversationId": conversation_id, "token": token})  # fmt: skip


def bin_check(connection) -> dict:
    """A harmless signed call (a card BIN's bank and type) that only works with valid credentials."""
    conversation = f"kervan-check-{int(clock.now().timestamp())}"
    return post(
        connection, "/payment/bin/check", {"locale": "tr", "conversationId": conversation, "binNumber": "554960"}
    )
