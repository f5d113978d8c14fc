"""WooCommerce: webhooks (WooCommerce › Settings › Advanced › Webhooks, API version WP REST API v3, the delivery
URL Kervan shows, the secret given here) and the REST API v3 for the history.

Topics used: order.created/updated/restored (the order), order.deleted (cancelled in Kervan if it still can be),
customer.created/updated, customer.deleted (the shop's id no longer names the person), product.created/updated/
restored, product.deleted (deactivated). coupon.* and custom action.* topics are ignored; a refund object POSTed by
a custom topic whose resource is "refund" or "order_refund" is read as a refund of its order.
"""

import orjson
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _

from kervan.core.errors import KervanError
from kervan.integrations import canonical as c
from kervan.integrations.canonical import Page
from kervan.integrations.platforms.base import CredentialField, Platform, UnexpectedPayload, body_digest
from kervan.integrations.platforms.woocommerce import mapping, verify
from kervan.integrations.platforms.woocommerce.client import Client


class WooCommerce(Platform):
    key = "woocommerce"
    label = "WooCommerce"
    credential_fields = (
        CredentialField(
            "consumer_key",
            _("Consumer key"),
            help=_("WooCommerce › Settings › Advanced › REST API: a key with Read access (ck_…)."),
        ),
        CredentialField("consumer_secret", _("Consumer secret"), help=_("The key's secret (cs_…).")),
        CredentialField(
            "webhook_secret",
            _("Webhook secret"),
            help=_("The Secret you give each webhook under WooCommerce › Settings › Advanced › Webhooks."),
        ),
    )
    backfill_kinds = ("customers", "products", "orders")

    # -- webhooks ---------------------------------------------------------------------------------------------------

    def is_ping(self, headers, body: bytes) -> bool:
        return verify.is_ping(headers, body)

    def verify(self, connection, headers, body: bytes) -> bool:
        return verify.signature_matches(connection.credentials.get("webhook_secret", ""), headers, body)

    def delivery_key(self, headers, body: bytes) -> tuple[str, str]:
        """X-WC-Webhook-Delivery-ID is a hash of the webhook's id and the second it fired: two objects changed in
        the same second share it, so the webhook and the object's id make the key."""
        topic = headers.get("x-wc-webhook-topic", "")
        delivery = headers.get("x-wc-webhook-delivery-id", "")
        if not delivery:
            return topic, body_digest(body)
        try:
            payload = orjson.loads(body)
            resource_id = str(payload.get("id", "")) if isinstance(payload, dict) else ""
        except orjson.JSONDecodeError:
            resource_id = ""
        return topic, f"{headers.get('x-wc-webhook-id', '')}:{delivery}:{topic}:{resource_id}"

    def records(self, connection, topic: str, payload) -> list:
        resource, _dot, event = topic.partition(".")
        if not isinstance(payload, dict):
            raise UnexpectedPayload(f"expected a JSON object, got {type(payload).__name__}")
        if resource == "order":
            if event == "deleted":
                return [c.OrderDeleted(external_id=mapping.ident(mapping.need(payload, "id")))]
            order = mapping.order(payload)
            return [order] if order else []
        if resource == "customer":
            if event == "deleted":
                return [c.CustomerDeleted(external_id=mapping.ident(mapping.need(payload, "id")))]
            return [mapping.customer(payload)]
        if resource == "product":
            if event == "deleted":
                return [c.ProductDeleted(external_id=mapping.ident(mapping.need(payload, "id")))]
            currency = connection.source.currency
            if mapping.is_variation(payload):
                found = mapping.variation_product(payload, currency)
                return [found] if found else []
            return [mapping.product(payload, currency)]
        if resource in ("refund", "order_refund"):
            return [mapping.order_refund(payload)]
        return []  # coupon.*, action.*: nothing Kervan keeps

    # -- the API ----------------------------------------------------------------------------------------------------

    def check(self, connection) -> str:
        return Client.for_connection(connection).shop_name()

    def fetch(self, connection, kind: str, cursor: dict | None) -> Page:
        client = Client.for_connection(connection)
        number = int((cursor or {}).get("page", 1))
        items, total, pages = client.page(kind, number)
        records: list = []
        for item in items:
            try:
                records.extend(self.read(connection, client, kind, item))
            except (UnexpectedPayload, AttributeError, TypeError) as unreadable:
                # One object the mapping cannot read stops the backfill at this page with the reason (resumable
                # once the shop fixes it), rather than leaving a silent hole in the history.
                raise KervanError(
                    gettext_now("WooCommerce %(kind)s page %(page)s could not be read: %(reason)s")
                    % {"kind": kind, "page": number, "reason": unreadable},
                    "unreadable_page",
                ) from unreadable
        more = bool(items) and number < (pages if pages is not None else number + 1)
        return Page(records=records, next_cursor={"page": number + 1} if more else None, total=total)

    def read(self, connection, client: Client, kind: str, item) -> list:
        if not isinstance(item, dict):
            raise UnexpectedPayload(f"expected a JSON object, got {type(item).__name__}")
        if kind == "customers":
            return [mapping.customer(item)]
        if kind == "products":
            variations = None
            if item.get("type") == "variable" and item.get("variations"):
                variations = client.variations(mapping.ident(item["id"]))
            return [mapping.product(item, connection.source.currency, variations)]
        order = mapping.order(item)
        return [order] if order else []


PLATFORM = WooCommerce()
