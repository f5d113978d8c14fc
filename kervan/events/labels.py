"""Event names and properties as a shop reads them, in the UI language.

The event store keeps the canonical English names ("Viewed Product") and the properties as sent
({"product_id": 131, "variant_id": 289, "value": "349.90"}): segments, flows and the API work on those. Pages show
them through this module: `event_label("Viewed Product")` is "Ürün görüntüledi" on a Turkish page, and
`describe(events)` turns a page of events' properties into labelled, readable details ("Ürün: Çaydanlık · Tutar:
₺349,90"), with the products and variants the page names resolved in one query (and the orders in one more, when it
names any). A name or key this module does not know is shown as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db.models import F, Q, Value
from django.utils.text import Truncator
from django.utils.translation import pgettext, pgettext_lazy

from kervan.core.templatetags.kervan import money
from kervan.events.models import CanonicalEvent

# The canonical names in the UI language. English keeps the canonical name itself (what segments and the API use);
# the context keeps these apart from the same English words used elsewhere.
EVENT_LABELS: dict[str, Any] = {
    CanonicalEvent.VIEWED_PAGE: pgettext_lazy("event", "Viewed Page"),
    CanonicalEvent.VIEWED_PRODUCT: pgettext_lazy("event", "Viewed Product"),
    CanonicalEvent.ADDED_TO_CART: pgettext_lazy("event", "Added to Cart"),
    CanonicalEvent.STARTED_CHECKOUT: pgettext_lazy("event", "Started Checkout"),
    CanonicalEvent.PLACED_ORDER: pgettext_lazy("event", "Placed Order"),
    CanonicalEvent.ORDERED_PRODUCT: pgettext_lazy("event", "Ordered Product"),
    CanonicalEvent.FULFILLED_ORDER: pgettext_lazy("event", "Fulfilled Order"),
    CanonicalEvent.SHIPPED_ORDER: pgettext_lazy("event", "Shipped Order"),
    CanonicalEvent.DELIVERED_ORDER: pgettext_lazy("event", "Delivered Order"),
    CanonicalEvent.CANCELLED_ORDER: pgettext_lazy("event", "Cancelled Order"),
    CanonicalEvent.REFUNDED_ORDER: pgettext_lazy("event", "Refunded Order"),
    CanonicalEvent.RETURNED_PRODUCT: pgettext_lazy("event", "Returned Product"),
    CanonicalEvent.SUBSCRIBED_BACK_IN_STOCK: pgettext_lazy("event", "Subscribed to Back in Stock"),
    CanonicalEvent.RECEIVED_EMAIL: pgettext_lazy("event", "Received Email"),
    CanonicalEvent.OPENED_EMAIL: pgettext_lazy("event", "Opened Email"),
    CanonicalEvent.CLICKED_EMAIL: pgettext_lazy("event", "Clicked Email"),
    CanonicalEvent.BOUNCED_EMAIL: pgettext_lazy("event", "Bounced Email"),
    CanonicalEvent.UNSUBSCRIBED: pgettext_lazy("event", "Unsubscribed"),
    CanonicalEvent.RECEIVED_SMS: pgettext_lazy("event", "Received SMS"),
    CanonicalEvent.CLICKED_SMS: pgettext_lazy("event", "Clicked SMS"),
    CanonicalEvent.OPENED_TICKET: pgettext_lazy("event", "Opened Ticket"),
    CanonicalEvent.STARTED_CHAT: pgettext_lazy("event", "Started Chat"),
    CanonicalEvent.SUBMITTED_REVIEW: pgettext_lazy("event", "Submitted Review"),
    CanonicalEvent.ANSWERED_SURVEY: pgettext_lazy("event", "Answered Survey"),
    CanonicalEvent.EARNED_POINTS: pgettext_lazy("event", "Earned Points"),
    CanonicalEvent.REDEEMED_POINTS: pgettext_lazy("event", "Redeemed Points"),
}


def event_label(name: str) -> str:
    """The event name in the UI language; a custom name as it was sent."""
    label = EVENT_LABELS.get(name)
    return str(label) if label is not None else name


# Property keys in the order a reader wants them, with their labels. Money keys are shown with the event's currency.
PROPERTY_LABELS: dict[str, Any] = {
    "product_id": pgettext_lazy("event property", "Product"),
    "variant_id": pgettext_lazy("event property", "Variant"),
    "title": pgettext_lazy("event property", "Title"),
    "sku": pgettext_lazy("event property", "SKU"),
    "category": pgettext_lazy("event property", "Category"),
    "order_id": pgettext_lazy("event property", "Order"),
    "number": pgettext_lazy("event property", "Order"),
    "order_number": pgettext_lazy("event property", "Order"),
    "quantity": pgettext_lazy("event property", "Quantity"),
    "items": pgettext_lazy("event property", "Items"),
    "value": pgettext_lazy("event property", "Value"),
    "total": pgettext_lazy("event property", "Total"),
    "revenue": pgettext_lazy("event property", "Revenue"),
    "amount": pgettext_lazy("event property", "Amount"),
    "price": pgettext_lazy("event property", "Price"),
    "path": pgettext_lazy("event property", "Page"),
    "url": pgettext_lazy("event property", "Page"),
    "query": pgettext_lazy("event property", "Search"),
    "search": pgettext_lazy("event property", "Search"),
    "q": pgettext_lazy("event property", "Search"),
    "referrer": pgettext_lazy("event property", "Came from"),
    "reason": pgettext_lazy("event property", "Reason"),
    "status": pgettext_lazy("event property", "Status"),
    "carrier": pgettext_lazy("event property", "Carrier"),
    "tracking_number": pgettext_lazy("event property", "Tracking number"),
    "sales_channel": pgettext_lazy("event property", "Sales channel"),
    "campaign": pgettext_lazy("event property", "Campaign"),
    "subject": pgettext_lazy("event property", "Subject"),
    "email": pgettext_lazy("event property", "Email"),
    "points": pgettext_lazy("event property", "Points"),
    "rating": pgettext_lazy("event property", "Rating"),
    "utm_source": pgettext_lazy("event property", "UTM source"),
    "utm_medium": pgettext_lazy("event property", "UTM medium"),
    "utm_campaign": pgettext_lazy("event property", "UTM campaign"),
}
MONEY_KEYS = frozenset({"value", "total", "revenue", "amount", "price"})
# Shown through another key: the currency with the amounts, the path instead of the whole URL, the order number
# instead of the order's id.
_SHOWN_WITH = {"currency": None, "url": "path", "order_id": "number", "order_number": "number"}
TEXT_LIMIT = 60


@dataclass(frozen=True)
class Detail:
    key: str
    label: str
    text: str


def property_label(key: str) -> str:
    label = PROPERTY_LABELS.get(key)
    return str(label) if label is not None else key


# Other apps name what other ids in properties point at: {property key: resolve(ids as sent) -> {id: name}}, one
# query per key for a page. The orders app names "order_id" (kervan.orders.timeline): events cannot import orders,
# which import events.
_resolvers: dict[str, Callable[[set[str]], dict[str, str]]] = {}


def register_reference(key: str, resolve: Callable[[set[str]], dict[str, str]]) -> None:
    if _resolvers.get(key, resolve) != resolve:
        raise ValueError(f"'{key}' already has a resolver")
    _resolvers[key] = resolve


@dataclass
class References:
    """Products and variants named by a page of events, read in one query: {id as sent: name}, and for variants
    {id as sent: (product name, variant name)}."""

    products: dict[str, str]
    variants: dict[str, tuple[str, str]]
    others: dict[str, dict[str, str]] = field(default_factory=dict)  # {key: {id as sent: name}} (register_reference)

    @classmethod
    def load(cls, properties: Iterable[dict[str, Any]]) -> References:
        from kervan.catalog.models import Product, Variant  # the catalog imports nothing of events

        wanted: dict[str, set[str]] = {key: set() for key in ("product_id", "variant_id", *_resolvers)}
        for props in properties:
            for key, ids in wanted.items():
                if _SHOWN_WITH.get(key) in props:  # shown through another key: nothing to look up
                    continue
                value = props.get(key)
                if isinstance(value, (int, str)) and not isinstance(value, bool) and str(value).strip():
                    ids.add(str(value).strip()[:64])
        others = {key: _resolvers[key](ids) for key, ids in wanted.items() if key in _resolvers and ids}
        # A storefront sends its own ids (matched to the imported products' external ids, whatever their source);
        # Kervan's own events (the demo shop, the API) send Kervan's. The storefront's id wins when both match.
        queries = []
        for model, key, columns in (
            (Product, "product_id", {"product_title": F("title"), "name": Value(""), "code": Value("")}),
            (Variant, "variant_id", {"product_title": F("product__title"), "name": F("title"), "code": F("sku")}),
        ):
            ids = wanted[key]
            if ids:
                pks = [int(v) for v in ids if v.isdigit() and len(v) < 19]
                queries.append(
                    model.objects.filter(Q(pk__in=pks) | Q(external_id__in=ids))
                    .annotate(kind=Value(key), **columns)
                    .values_list("kind", "pk", "external_id", "product_title", "name", "code")
                )
        if not queries:
            return cls({}, {}, others)
        found = list(queries[0].union(*queries[1:], all=True) if len(queries) > 1 else queries[0])
        products: dict[str, str] = {}
        variants: dict[str, tuple[str, str]] = {}
        # Kervan's ids first, then the external ids over them: a storefront's "131" is its own product 131.
        for key_of in (lambda pk, external_id: str(pk), lambda pk, external_id: external_id):
            for kind, pk, external_id, product_title, name, sku in found:
                key = key_of(pk, external_id)
                if not key:
                    continue
                if kind == "product_id":
                    products[key] = product_title
                else:
                    variants[key] = (product_title, name or sku)
        return cls(products, variants, others)


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return pgettext("property value", "yes") if value else pgettext("property value", "no")
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return Truncator(str(value)).chars(TEXT_LIMIT)


def _money(value: Any, currency: str) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return _text(value)
    return money(amount, currency)


def details(properties: dict[str, Any], references: References) -> list[Detail]:
    """One event's properties as labelled text: known keys first in a reader's order, then the rest by name."""
    if not isinstance(properties, dict):
        return []
    currency = properties.get("currency")
    currency = currency if isinstance(currency, str) and currency.strip() else settings.KERVAN_DEFAULT_CURRENCY
    # The rest by name: PostgreSQL's jsonb does not keep the order they were sent in (SQLite does), and a page must
    # read the same on both.
    keys = [k for k in PROPERTY_LABELS if k in properties] + sorted(k for k in properties if k not in PROPERTY_LABELS)
    shown = []
    for key in keys:
        if key in _SHOWN_WITH and (_SHOWN_WITH[key] is None or _SHOWN_WITH[key] in properties):
            continue
        value = properties[key]
        if value is None or value == "":
            continue
        if key == "product_id":
            text = references.products.get(str(value).strip()) or _text(value)
        elif key == "variant_id":
            product_title, name = references.variants.get(str(value).strip(), ("", ""))
            if not name and not product_title:
                text = _text(value)
            elif "product_id" in properties:  # the product is shown already
                text = name or product_title
            else:
                text = " · ".join(part for part in (product_title, name) if part)
        elif key in references.others:
            text = references.others[key].get(str(value).strip()) or _text(value)
        elif key in MONEY_KEYS:
            text = _money(value, currency.strip().upper())
        else:
            text = _text(value)
        shown.append(Detail(key, property_label(key), text))
    return shown


def summary(shown: Sequence[Detail], limit: int = 4) -> str:
    """The details on one line: "Product: Çaydanlık · Value: ₺349,90"."""
    return " · ".join(f"{d.label}: {d.text}" for d in shown[:limit])


def describe(events: Sequence[Any]) -> list[list[Detail]]:
    """The details of each of `events` (anything with `.properties`), in order: one query for the whole page."""
    references = References.load(e.properties for e in events if isinstance(e.properties, dict))
    return [details(e.properties, references) for e in events]
