"""Shopify: a shop at https://<shop>.myshopify.com, connected with a custom app's Admin API access token; webhooks
signed with the app's client secret (verify.py), read into canonical records (mapping.py), history pulled through
the REST Admin API (client.py).

Topics Kervan reads (subscribe them in the app; the rest are stored and ignored): orders/create, orders/updated,
orders/cancelled, orders/fulfilled, orders/partially_fulfilled, orders/paid, orders/delete, refunds/create,
order_transactions/create, customers/create, customers/update, customers/enable, customers/disable,
customers/delete, customers_email_marketing_consent/update, customers_marketing_consent/update (SMS),
products/create, products/update, products/delete, inventory_levels/update (see mapping.stock_record),
checkouts/create, checkouts/update, checkouts/delete, and the mandatory privacy topics customers/data_request,
customers/redact, shop/redact.
"""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kervan.core import clock, http
from kervan.core.errors import KervanError
from kervan.integrations import canonical as c
from kervan.integrations.platforms.base import CheckFailed, CredentialField, Platform, UnexpectedPayload
from kervan.integrations.platforms.shopify import client, mapping, orders, verify

ORDER_TOPICS = {"orders/create", "orders/updated", "orders/cancelled", "orders/fulfilled",
                "orders/partially_fulfilled", "orders/paid"}  # fmt: skip
CUSTOMER_TOPICS = {"customers/create", "customers/update", "customers/enable", "customers/disable"}
CONSENT_TOPICS = {
    "customers_email_marketing_consent/update": "email",
    "customers_marketing_consent/update": "sms",  # Shopify's name for the SMS consent topic
    "customers_sms_marketing_consent/update": "sms",
}
PRIVACY_TOPICS = {"customers/data_request": "export", "customers/redact": "erase_customer", "shop/redact": "erase_shop"}
IGNORED_TOPICS = {"checkouts/delete"}  # Kervan keeps no checkout to delete: the flows end on the order instead


class ShopifyPlatform(Platform):
    key = "shopify"
    label = "Shopify"
    credential_fields = (
        CredentialField("access_token", gettext_lazy("Admin API access token"),
                        help=gettext_lazy("From the shop's custom app: Settings → Apps → Develop apps → "
                                          "API credentials (starts with shpat_).")),
        CredentialField("webhook_secret", gettext_lazy("Webhook signing secret"),
                        help=gettext_lazy("The app's client secret (API secret key): Shopify signs its webhooks "
                                          "with it.")),
    )  # fmt: skip
    backfill_kinds = client.KINDS

    # -- webhooks ---------------------------------------------------------------------------------------------------

    def verify(self, connection, headers, body):
        return verify.signature_valid(connection.credentials.get("webhook_secret", ""), headers, body)

    def delivery_key(self, headers, body):
        return verify.delivery_key(headers, body)

    def records(self, connection, topic, payload):
        if not isinstance(payload, dict):
            raise UnexpectedPayload(f"{topic}: the body is not a JSON object")
        source_key = connection.source.key
        if topic in ORDER_TOPICS:
            return orders.order_records(payload, source_key)
        if topic == "orders/delete":
            return [c.OrderDeleted(external_id=mapping.ident(mapping.need(payload, "id", topic)))]
        if topic == "refunds/create":
            return orders.refund_records(payload, source_key)
        if topic == "order_transactions/create":
            return orders.transaction_records(payload)
        if topic in CUSTOMER_TOPICS:
            return mapping.customer_records(payload)
        if topic == "customers/delete":
            return [c.CustomerDeleted(external_id=mapping.ident(mapping.need(payload, "id", topic)))]
        if topic in CONSENT_TOPICS:
            return mapping.consent_topic(payload, CONSENT_TOPICS[topic], clock.now())
        if topic in ("products/create", "products/update"):
            return [self.product(connection, payload)]
        if topic == "products/delete":
            return [c.ProductDeleted(external_id=mapping.ident(mapping.need(payload, "id", topic)))]
        if topic == "inventory_levels/update":
            return mapping.stock_record(payload)
        if topic in ("checkouts/create", "checkouts/update"):
            return orders.checkout_record(payload, source_key)
        if topic in PRIVACY_TOPICS:
            return mapping.privacy_record(payload, PRIVACY_TOPICS[topic])
        return []  # IGNORED_TOPICS and topics Kervan does not use: stored, shown as ignored

    def product(self, connection, payload) -> c.StoreProduct:
        # Shopify's product carries no currency: its prices are in the shop's, the connection's source currency.
        return mapping.product_record(payload, connection.source.key, currency=connection.source.currency,
                                      base_url=connection.base_url.rstrip("/"))  # fmt: skip

    # -- the API ----------------------------------------------------------------------------------------------------

    def check(self, connection):
        try:
            shop = client.shop(connection)
        except http.HttpError as failure:
            raise CheckFailed(_check_message(connection, failure)) from None
        except KervanError as odd:
            raise CheckFailed(odd.detail) from None
        return str(shop.get("name") or shop.get("myshopify_domain") or connection.base_url)

    def fetch(self, connection, kind, cursor):
        if kind not in client.KINDS:
            raise KervanError(_("Shopify cannot backfill %(kind)s.") % {"kind": kind}, "invalid_kind")
        items, page_info, total = client.page(connection, kind, cursor)
        records: list = []
        for item in items:
            try:
                records += self.backfill_records(connection, kind, item)
            except UnexpectedPayload as odd:
                raise KervanError(
                    _("Shopify's %(kind)s %(id)s could not be read: %(reason)s")
                    % {"kind": kind, "id": item.get("id") if isinstance(item, dict) else "?", "reason": odd},
                    "unexpected_answer",
                ) from None
        return c.Page(records=records, next_cursor={"page_info": page_info} if page_info else None, total=total)

    def backfill_records(self, connection, kind: str, item) -> list:
        if not isinstance(item, dict):
            raise UnexpectedPayload("not an object")
        if kind == "customers":
            return mapping.customer_records(item)
        if kind == "products":
            return [self.product(connection, item)]
        if "line_items" not in item and item.get("id") is not None:
            # A listed order without its lines (a trimmed answer): the order itself, in full.
            item = client.order(connection, mapping.ident(item["id"]))
        return orders.order_records(item, connection.source.key)


def _check_message(connection, failure: http.HttpError) -> str:
    if failure.status == 401:
        return _("Shopify refused the access token: check that it is the Admin API access token of an app installed "
                 "in this shop.")  # fmt: skip
    if failure.status == 403:
        return _("Shopify accepted the token but the app may not read the shop: give it the read_orders, "
                 "read_customers and read_products scopes.")  # fmt: skip
    if failure.status == 404:
        return _("No Shopify shop answers at %(address)s: use the shop's https://your-shop.myshopify.com address.") % {
            "address": connection.base_url
        }
    if failure.status is None:
        return _("Could not reach %(address)s: %(reason)s") % {"address": connection.base_url,
                                                                "reason": failure.reason}  # fmt: skip
    return _("Shopify answered %(status)s: %(reason)s") % {"status": failure.status, "reason": failure.body[:200]}


PLATFORM = ShopifyPlatform()
