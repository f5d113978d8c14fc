"""Magento 2 (Open Source and Adobe Commerce): webhooks sent by the shop with the connection's shared secret, and
the REST API for the history and the credential check.

Magento has no signed webhooks of its own. A shop sends Kervan, on each save, the object as its REST API returns
it (the body of GET /V1/orders/<id> and so on), either bare or in Adobe Commerce Webhooks' envelope
({"eventName": …, "data": {"order": {…}}}), with:

- X-Magento-Topic: order.save, order.delete, customer.save, customer.delete, invoice.save, shipment.save,
  creditmemo.save, product.save, product.delete (Magento's own event names are read too, e.g.
  observer.sales_order_save_after; without the header, the envelope's eventName);
- X-Kervan-Signature: sha256=<hex HMAC-SHA256 of the body> or X-Magento-Webhook-Secret: <the secret> (verify.py);
- optionally X-Magento-Delivery-Id (else the body's hash makes the same delivery count once).
"""

import orjson
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _

from kervan.core.errors import KervanError
from kervan.integrations import canonical as c
from kervan.integrations.canonical import Page
from kervan.integrations.platforms.base import CredentialField, Platform, UnexpectedPayload, body_digest
from kervan.integrations.platforms.magento import mapping, verify
from kervan.integrations.platforms.magento.client import PAGE_SIZE, Client

# Magento's event names (observer events, as Adobe Commerce Webhooks and observer modules name them) → topics.
EVENTS = {
    "sales_order_save_after": "order.save",
    "sales_order_place_after": "order.save",
    "sales_order_delete_after": "order.delete",
    "customer_save_after_data_object": "customer.save",
    "customer_save_after": "customer.save",
    "customer_register_success": "customer.save",
    "customer_delete_after": "customer.delete",
    "sales_order_invoice_save_after": "invoice.save",
    "sales_order_invoice_pay": "invoice.save",
    "sales_order_shipment_save_after": "shipment.save",
    "sales_order_creditmemo_save_after": "creditmemo.save",
    "catalog_product_save_after": "product.save",
    "catalog_product_delete_after": "product.delete",
}
# Each topic's object keys in an envelope ({"order": {...}} or {"data": {"order": {...}}}); Magento's
# customer_save_after_data_object event names its customer "customer_data_object".
OBJECT_KEYS = {"customer": ("customer", "customer_data_object"), "creditmemo": ("creditmemo", "credit_memo")}


def topic_of(name: str) -> str:
    """'observer.sales_order_save_after' or 'sales_order_save_after' → 'order.save'; topics pass as they are."""
    name = name.strip()
    bare = name.removeprefix("observer.").removeprefix("plugin.")
    return EVENTS.get(bare, name)


def unwrap(payload, resource: str):
    """The object of an envelope: {"data": {"order": {…}}} (Adobe Commerce Webhooks), {"order": {…}}, or bare."""
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        payload = payload["data"]
    for key in OBJECT_KEYS.get(resource, (resource,)):
        if isinstance(payload, dict) and isinstance(payload.get(key), dict):
            return payload[key]
    return payload


class Magento(Platform):
    key = "magento"
    label = "Magento 2"
    credential_fields = (
        CredentialField(
            "access_token",
            _("Access token"),
            help=_("System › Extensions › Integrations: an active integration's Access Token."),
        ),
        CredentialField(
            "webhook_secret",
            _("Webhook secret"),
            help=_("A long random secret, set in the module that sends Kervan the shop's changes."),
        ),
    )
    backfill_kinds = ("customers", "products", "orders")

    # -- webhooks ---------------------------------------------------------------------------------------------------

    def verify(self, connection, headers, body: bytes) -> bool:
        return verify.signature_matches(connection.credentials.get("webhook_secret", ""), headers, body)

    def delivery_key(self, headers, body: bytes) -> tuple[str, str]:
        topic = headers.get("x-magento-topic", "")
        if not topic:
            try:
                payload = orjson.loads(body)
                topic = str(payload.get("eventName") or "") if isinstance(payload, dict) else ""
            except orjson.JSONDecodeError:
                topic = ""
        delivery = headers.get("x-magento-delivery-id", "").strip()
        return topic_of(topic), f"id:{delivery}" if delivery else body_digest(body)

    def records(self, connection, topic: str, payload) -> list:
        resource, _dot, event = topic_of(topic).partition(".")
        payload = unwrap(payload, resource)
        if not isinstance(payload, dict):
            raise UnexpectedPayload(f"expected a JSON object, got {type(payload).__name__}")
        if event == "delete":
            key = "entity_id" if resource == "order" else "id"
            deleted = {"order": c.OrderDeleted, "customer": c.CustomerDeleted, "product": c.ProductDeleted}.get(
                resource
            )
            return [deleted(external_id=mapping.ident(mapping.need(payload, key)))] if deleted else []
        if event != "save":
            return []
        if resource == "order":
            order = mapping.order(payload)
            return [order] if order else []
        if resource == "customer":
            return [mapping.customer(payload)]
        if resource == "invoice":
            paid = mapping.invoice(payload)
            return [paid] if paid else []
        if resource == "shipment":
            return [mapping.shipment(payload)]
        if resource == "creditmemo":
            return [mapping.creditmemo(payload)]
        if resource == "product":
            return [mapping.product(payload, connection.source.currency)]
        return []

    # -- the API ----------------------------------------------------------------------------------------------------

    def check(self, connection) -> str:
        return Client.for_connection(connection).shop_name()

    def fetch(self, connection, kind: str, cursor: dict | None) -> Page:
        number = int((cursor or {}).get("page", 1))
        items, total = Client.for_connection(connection).page(kind, number)
        records: list = []
        for item in items:
            try:
                records.extend(self.read(connection, kind, item))
            except (UnexpectedPayload, AttributeError, TypeError) as unreadable:
                # One object the mapping cannot read stops the backfill at this page with the reason (resumable),
                # rather than leaving a silent hole in the history.
                raise KervanError(
                    gettext_now("Magento %(kind)s page %(page)s could not be read: %(reason)s")
                    % {"kind": kind, "page": number, "reason": unreadable},
                    "unreadable_page",
                ) from unreadable
        # Past the last page Magento repeats the last one: the end is where total_count says.
        more = bool(items) and (number * PAGE_SIZE < total if total is not None else len(items) == PAGE_SIZE)
        return Page(records=records, next_cursor={"page": number + 1} if more else None, total=total)

    def read(self, connection, kind: str, item) -> list:
        if not isinstance(item, dict):
            raise UnexpectedPayload(f"expected a JSON object, got {type(item).__name__}")
        if kind == "customers":
            return [mapping.customer(item)]
        if kind == "products":
            return [mapping.product(item, connection.source.currency)]
        order = mapping.order(item)
        return [order] if order else []


PLATFORM = Magento()
