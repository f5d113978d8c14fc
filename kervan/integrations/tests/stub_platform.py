"""A minimal platform for the integration core's own tests: its webhooks carry canonical records as plain JSON, its
"API" is a loopback HTTP server paging JSON lists. Real platforms are tested on their real payloads in their folders;
this one lets the core (intake, worker, sync, backfill, pages) be tested without any platform's quirks."""

import datetime as dt
import json
from decimal import Decimal

from kervan.core import http
from kervan.integrations import canonical as c
from kervan.integrations.platforms.base import (
    CheckFailed,
    CredentialField,
    Platform,
    UnexpectedPayload,
    body_digest,
    hmac_matches,
)


def _when(value):
    return dt.datetime.fromisoformat(value) if value else None


def customer(data: dict) -> c.StoreCustomer:
    return c.StoreCustomer(
        external_id=str(data.get("id", "")),
        email=data.get("email", ""),
        phone=data.get("phone", ""),
        first_name=data.get("first_name", ""),
        last_name=data.get("last_name", ""),
        country=data.get("country", ""),
        updated_at=_when(data.get("updated_at")),
    )


def order(data: dict) -> c.StoreOrder:
    return c.StoreOrder(
        external_id=str(data["id"]),
        number=data["number"],
        customer=customer(data.get("customer") or {}),
        placed_at=_when(data["placed_at"]),
        updated_at=_when(data.get("updated_at")),
        currency=data.get("currency", "TRY"),
        status=data.get("status", "placed"),
        lines=tuple(
            c.StoreLine(
                sku=line.get("sku", ""),
                title=line["title"],
                quantity=line["quantity"],
                unit_price=Decimal(line["price"]),
            )
            for line in data["lines"]
        ),  # fmt: skip
        shipping_total=Decimal(data.get("shipping", "0")),
        tracking_number=data.get("tracking", ""),
        carrier=data.get("carrier", ""),
        refunds=tuple(
            c.StoreRefund(
                external_id=r["id"],
                amount=Decimal(r["amount"]),
                occurred_at=_when(r["at"]),
                lines=tuple((sku, n) for sku, n in r.get("lines", [])),
            )
            for r in data.get("refunds", [])
        ),  # fmt: skip
    )


READERS = {"customer": customer, "order": order}


class StubPlatform(Platform):
    key = "stub"
    label = "Stub"
    credential_fields = (CredentialField("token", "Token"), CredentialField("account", "Account", secret=False))
    backfill_kinds = ("customers", "orders")

    def verify(self, connection, headers, body):
        return hmac_matches(connection.credentials.get("token", ""), body, headers.get("x-stub-signature", ""))

    def delivery_key(self, headers, body):
        return headers.get("x-stub-topic", "records"), headers.get("x-stub-id") or body_digest(body)

    def records(self, connection, topic, payload):
        try:
            return [READERS[item["kind"]](item) for item in payload["records"]]
        except (KeyError, TypeError) as missing:
            raise UnexpectedPayload(f"missing {missing}") from None

    def check(self, connection):
        try:
            response = http.request("GET", connection.base_url + "/shop",
                                    headers={"Authorization": connection.credentials.get("token", "")})  # fmt: skip
        except http.HttpError as failure:
            raise CheckFailed(f"The stub shop refused: {failure}") from None
        return json.loads(response.body)["name"]

    def fetch(self, connection, kind, cursor):
        page = (cursor or {}).get("page", 1)
        response = http.request("GET", f"{connection.base_url}/{kind}?page={page}")
        data = json.loads(response.body)
        reader = READERS[kind[:-1]]
        return c.Page(
            records=[reader(item) for item in data["items"]],
            next_cursor={"page": page + 1} if data.get("more") else None,
            total=data.get("total"),
        )


PLATFORM = StubPlatform()
