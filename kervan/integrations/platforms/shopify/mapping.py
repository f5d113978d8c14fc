"""Shopify's webhook bodies and REST resources (Admin API 2026-07; older REST shapes read too) as Kervan's canonical
records. Plain functions of parsed JSON: no database, no network.

Ids are kept as Shopify wrote them (orjson and the stdlib keep ints exact; they exceed 2^53), money is
Decimal(str(value)) (most amounts are strings, a refund line's subtotal is a JSON number), times are aware.
Amounts are the shop's money (`currency`), not the buyer's presentment money.

Choices where Shopify's data needs reading (orders.py says those of orders):
- A line or variant without a SKU gets "<source key>-<variant id>", the SKU sync gives such a variant, so orders,
  refunds and products of it meet.
- Consent: a dated decision only (email_marketing_consent.consent_updated_at, accepts_marketing_updated_at) from
  customer payloads — an undated "not_subscribed" repeated on every profile update must not overturn a newer
  consent given elsewhere. The consent topics themselves are a change: dated by Shopify, or at
  processing time when Shopify leaves consent_updated_at empty.
"""

import datetime as dt
from decimal import Decimal

from kervan.integrations import canonical as c
from kervan.integrations.platforms.base import UnexpectedPayload
from kervan.integrations.platforms.values import ident, moment, money, need, text

ZERO = Decimal(0)
GRANTED_STATES = {"subscribed"}
REFUSED_STATES = {"not_subscribed", "unsubscribed", "redacted", "invalid"}  # "pending": double opt-in not confirmed


# -- values -----------------------------------------------------------------------------------------------------------


def tags(value) -> tuple[str, ...]:
    """Shopify's tags: one string, "a, b"."""
    if isinstance(value, list):
        return tuple(t for t in (text(v) for v in value) if t)
    return tuple(t for t in (part.strip() for part in text(value).split(",")) if t)


def fallback_sku(source_key: str, sku, variant_id) -> str:
    sku = text(sku)
    if sku or variant_id in (None, ""):
        return sku[:64]
    return f"{source_key}-{ident(variant_id)}"[:64]


# -- customers and consent --------------------------------------------------------------------------------------------


def customer(data: dict | None, *, email: str = "", phone: str = "", language: str = "") -> c.StoreCustomer:
    """A customer object (its own payload, or embedded in an order or checkout); `email`/`phone` fill what it
    lacks (a guest order's contact email)."""
    data = data if isinstance(data, dict) else {}
    address = data.get("default_address") or {}
    return c.StoreCustomer(
        external_id=ident(data.get("id")),
        email=text(data.get("email")) or email,
        phone=text(data.get("phone")) or phone,
        first_name=text(data.get("first_name")) or text(address.get("first_name")),
        last_name=text(data.get("last_name")) or text(address.get("last_name")),
        city=text(address.get("city")),
        country=text(address.get("country_code")).upper(),
        language=text(data.get("locale")) or language,
        tags=tags(data.get("tags")),
        created_at=moment(data.get("created_at")),
        updated_at=moment(data.get("updated_at")),
    )


def consent(person: c.StoreCustomer, channel: str, state, at, proof: str) -> c.ConsentChange | None:
    state = text(state).lower()
    if at is None or state not in GRANTED_STATES | REFUSED_STATES:
        return None
    return c.ConsentChange(customer=person, channel=channel, granted=state in GRANTED_STATES, occurred_at=at,
                           proof=proof)  # fmt: skip


def customer_consents(data: dict, person: c.StoreCustomer) -> list[c.ConsentChange]:
    """The dated consent decisions a customer object carries (see the module's docstring)."""
    found = []
    for channel, key in (("email", "email_marketing_consent"), ("sms", "sms_marketing_consent")):
        details = data.get(key)
        if isinstance(details, dict):
            change = consent(person, channel, details.get("state"), moment(details.get("consent_updated_at")),
                             _consent_proof(details))  # fmt: skip
            if change:
                found.append(change)
    if "email_marketing_consent" not in data and data.get("accepts_marketing") is not None:
        at = moment(data.get("accepts_marketing_updated_at"))
        state = "subscribed" if data.get("accepts_marketing") else "unsubscribed"
        proof = f"Shopify: accepts_marketing={bool(data['accepts_marketing'])}"
        if data.get("marketing_opt_in_level"):
            proof += f", opt_in_level={data['marketing_opt_in_level']}"
        if change := consent(person, "email", state, at, proof):
            found.append(change)
    return found


def _consent_proof(details: dict) -> str:
    parts = [f"state={text(details.get('state'))}"]
    for key in ("opt_in_level", "consent_collected_from"):
        if details.get(key):
            parts.append(f"{key}={text(details[key])}")
    return "Shopify: " + ", ".join(parts)


def customer_records(data: dict) -> list:
    need(data, "id", "customer")
    person = customer(data)
    return [person, *customer_consents(data, person)]


def consent_topic(data: dict, channel: str, now: dt.datetime) -> list:
    """customers_email_marketing_consent/update, customers_marketing_consent/update (SMS; the same shape with
    sms_marketing_consent and the phone — inferred from the customer object, no published sample here)."""
    key = "email_marketing_consent" if channel == "email" else "sms_marketing_consent"
    details = need(data, key, "consent update")
    person = c.StoreCustomer(
        external_id=ident(data.get("customer_id") or data.get("id")),
        email=text(data.get("email_address")) if channel == "email" else "",
        phone=text(data.get("phone_number") or data.get("phone")) if channel == "sms" else "",
    )
    if not (person.external_id or person.email or person.phone):
        raise UnexpectedPayload("consent update names no customer")
    at = moment(details.get("consent_updated_at")) or now
    change = consent(person, channel, details.get("state"), at, _consent_proof(details))
    return [change] if change else []


# -- catalogue --------------------------------------------------------------------------------------------------------


def product_record(data: dict, source_key: str, *, currency: str, base_url: str) -> c.StoreProduct:
    external_id = ident(need(data, "id", "product"))
    variants = []
    for variant in data.get("variants") or []:
        tracked = "inventory_management" not in variant or variant.get("inventory_management") is not None
        stock = variant.get("inventory_quantity")
        variants.append(
            c.StoreVariant(
                external_id=ident(need(variant, "id", "variant")),
                sku=fallback_sku(source_key, variant.get("sku"), variant.get("id")),
                title=text(variant.get("title")),
                price=money(variant.get("price"), default=None),
                compare_at_price=money(variant.get("compare_at_price"), default=None),
                stock=int(stock) if tracked and stock is not None else None,
            )
        )
    image = data.get("image") or next(iter(data.get("images") or []), None) or {}
    handle = text(data.get("handle"))
    status = text(data.get("status"))
    return c.StoreProduct(
        external_id=external_id,
        title=text(data.get("title")),
        currency=currency,
        variants=tuple(variants),
        url=f"{base_url}/products/{handle}" if handle and base_url else "",
        image_url=text(image.get("src")),
        category=text(data.get("product_type")),
        active=status == "active" if status else data.get("published_at") is not None,
        updated_at=moment(data.get("updated_at")),
    )


def stock_record(data: dict) -> list:
    """inventory_levels/update names an inventory item at one location, not a SKU: Kervan cannot tell which variant
    it is (nor the total over locations). Stock comes from products/update (variants' inventory_quantity, Shopify's
    total), which Shopify sends on every stock change; a level is used only when its body carries the SKU."""
    sku = text(data.get("sku"))
    if not sku or data.get("available") is None:
        return []
    return [c.StockLevel(sku=sku[:64], stock=int(data["available"]), updated_at=moment(data.get("updated_at")))]


# -- privacy ----------------------------------------------------------------------------------------------------------


def privacy_record(data: dict, kind: str) -> list:
    if kind == "erase_shop":
        need(data, "shop_id", "shop/redact")
        return [c.PrivacyRequest(kind=kind)]
    person = need(data, "customer", "privacy request")
    orders_key = "orders_requested" if kind == "export" else "orders_to_redact"
    return [
        c.PrivacyRequest(
            kind=kind,
            customer=c.StoreCustomer(
                external_id=ident(person.get("id")), email=text(person.get("email")), phone=text(person.get("phone"))
            ),  # fmt: skip
            order_external_ids=tuple(ident(o) for o in data.get(orders_key) or []),
            request_id=ident((data.get("data_request") or {}).get("id")),
        )
    ]
