"""OpenCart 4 rows → kervan.integrations.canonical records.

What the rows mean (OpenCart 4's upload/system/helper/db_schema.php; ../shared/data/webhooks/opencart):
- money is DECIMAL(15,4) in the shop's default currency; an order was shown to its customer in currency_code at
  currency_value per unit of the default currency, so its amounts are converted here (as OpenCart's own invoice does);
- an order_product row's price and tax are per unit; order_total rows (sub_total, shipping, tax, coupon, voucher,
  reward, total …) carry the order's totals; the coupon's code is in its title, "Coupon (YAZ50)";
- order_status_id 0 is an order whose checkout was never confirmed (OpenCart's "missing orders"): an abandoned
  checkout, not an order;
- status names come from order_status in the connection's language and are mapped as the history import maps them
  (kervan.imports.file_settings.suggest_status, then the ids of OpenCart's own status table in the import's
  preset): a shop that renamed "Processing" to "Kargoda" is read by its word;
- dates are the shop's local time without an offset (the zone comes with the call);
- payment_method is JSON ({"name", "code"}) in OpenCart 4.0.2+, a plain name before.
"""

import datetime as dt
import json
import re
import zoneinfo
from decimal import ROUND_HALF_UP, Decimal

from kervan.imports.file_settings import REFUNDED, RETURNED, SKIP, suggest_status
from kervan.imports.presets import presets
from kervan.integrations import canonical as c
from kervan.orders.models import OrderStatus

CENT = Decimal("0.01")
DISCOUNT_CODES = ("coupon", "voucher", "reward", "credit")  # order_total rows that take money off
KNOWN_CODES = ("sub_total", "shipping", "tax", "total", *DISCOUNT_CODES)
PAYMENT_METHODS = {"cod": "cod", "bank_transfer": "bank_transfer"}  # the rest: card (sync's default)
_COUPON = re.compile(r"\(([^()]+)\)\s*$")

PAID_OR_LATER = (
    OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.SHIPPED, OrderStatus.DELIVERED, REFUNDED, RETURNED,
)  # fmt: skip


def status_of(status_id: int, name: str) -> str:
    """The Kervan status (or REFUNDED/RETURNED/SKIP) of an OpenCart status; placed when nothing says otherwise."""
    by_id = presets()["opencart_related"].statuses
    return suggest_status(name or "") or by_id.get(str(status_id), "") or OrderStatus.PLACED


def aware(value, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """A DATETIME of the shop (naive, its local time) as an aware time; None for OpenCart's 0000-00-00."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=zone)
    return None


def db_time(value) -> str:
    """A DATETIME as the cursor keeps it: naive, exactly as the database wrote it."""
    return value.isoformat() if isinstance(value, dt.datetime) else "1970-01-01T00:00:00"


def _money(value, rate: Decimal = Decimal(1)) -> Decimal:
    return (Decimal(str(value or 0)) * rate).quantize(CENT, rounding=ROUND_HALF_UP)


# -- customers ------------------------------------------------------------------------------------------------------


def customer(row: dict, zone: zoneinfo.ZoneInfo) -> c.StoreCustomer:
    return c.StoreCustomer(
        external_id=str(row["customer_id"]),
        email=(row.get("email") or "").strip(),
        phone=(row.get("telephone") or "").strip(),
        first_name=(row.get("firstname") or "").strip(),
        last_name=(row.get("lastname") or "").strip(),
        created_at=aware(row.get("date_added"), zone),
    )


def consent(row: dict, zone: zoneinfo.ZoneInfo, occurred_at: dt.datetime | None = None) -> c.ConsentChange | None:
    """The customer's newsletter box as email consent. OpenCart keeps no date of the change: the first reading is
    dated at the sign-up, later readings at when Kervan saw them (sync records only a change of the state)."""
    person = customer(row, zone)
    when = occurred_at or person.created_at
    if not person.email or when is None:
        return None
    subscribed = bool(row.get("newsletter"))
    return c.ConsentChange(
        customer=person,
        channel="email",
        granted=subscribed,
        occurred_at=when,
        proof=f"OpenCart customer {row['customer_id']}: newsletter={int(subscribed)}",
    )


def customer_records(row: dict, zone: zoneinfo.ZoneInfo, occurred_at: dt.datetime | None = None) -> list:
    records: list = [customer(row, zone)]
    change = consent(row, zone, occurred_at)
    if change is not None:
        records.append(change)
    return records


# -- orders ---------------------------------------------------------------------------------------------------------


def order(row: dict, statuses: dict[int, str], zone: zoneinfo.ZoneInfo) -> c.StoreOrder | c.Checkout | None:
    """The order (with row["lines"], ["totals"], ["history"] attached by the client); a Checkout for an unconfirmed
    one (status 0); None for a status the import would skip."""
    rate = Decimal(str(row.get("currency_value") or 1)) or Decimal(1)
    currency = (row.get("currency_code") or "").upper()
    updated = aware(row["date_modified"], zone)
    placed = aware(row["date_added"], zone) or updated
    updated = updated or placed
    if placed is None:  # both dates 0000-00-00: nothing says when it happened
        return None
    person = c.StoreCustomer(
        external_id=str(row["customer_id"]) if row.get("customer_id") else "",  # 0: a guest, known by the email
        email=(row.get("email") or "").strip(),
        phone=(row.get("telephone") or "").strip(),
        first_name=(row.get("firstname") or "").strip(),
        last_name=(row.get("lastname") or "").strip(),
        city=(row.get("shipping_city") or row.get("payment_city") or "").strip(),
        country=row.get("country_iso") or "",
        language=(row.get("language_code") or "")[:2],
    )
    totals = _totals(row["totals"], rate)
    lines = _lines(row["lines"], rate, totals["discount"])
    total = _money(row.get("total"), rate)
    if not row.get("order_status_id"):
        return c.Checkout(
            token=f"order-{row['order_id']}",
            customer=person,
            currency=currency,
            lines=lines,
            total=total,
            recovery_url=f"{(row.get('store_url') or '').rstrip('/')}/index.php?route=checkout/cart"
            if row.get("store_url")
            else "",
            occurred_at=placed,
            updated_at=updated,
        )
    status = status_of(row["order_status_id"], statuses.get(row["order_status_id"], ""))
    if status == SKIP or not lines:
        return None
    history = [
        (aware(h["date_added"], zone) or updated, status_of(h["order_status_id"], statuses.get(h["order_status_id"], "")), h)  # noqa: E501
        for h in row["history"]
    ]  # fmt: skip

    def first(*targets: str) -> dt.datetime | None:
        return next((when for when, mapped, _h in history if mapped in targets), None)

    refunds: tuple[c.StoreRefund, ...] = ()
    if status in (REFUNDED, RETURNED):
        entry = next((h for _w, mapped, h in history if mapped == status), None)
        refunds = (
            c.StoreRefund(
                external_id=f"{row['order_id']}-{status}",  # one refund of the whole order, however often it is set
                amount=total,
                occurred_at=first(status) or updated,
                reason=((entry or {}).get("comment") or "").strip(),
                lines=tuple((line.sku, line.quantity) for line in lines if line.sku) if status == RETURNED else (),
            ),
        )
    cancelled = [when for when, mapped, _h in history if mapped == OrderStatus.CANCELLED]
    return c.StoreOrder(
        external_id=str(row["order_id"]),
        number=str(row["order_id"]),  # what OpenCart shows its customer ("Order ID: #123")
        customer=person,
        placed_at=placed,
        updated_at=updated,
        currency=currency,
        lines=lines,
        status={REFUNDED: OrderStatus.PAID, RETURNED: OrderStatus.DELIVERED}.get(status, status),
        shipping_total=totals["shipping"],
        total=total,
        discount_codes=totals["coupons"],
        utm_campaign=(row.get("tracking") or "").strip()[:100],  # OpenCart's marketing link code (?tracking=)
        paid_at=first(*PAID_OR_LATER),
        payment_method=_payment_method(row.get("payment_method")),
        # OpenCart records the shipping method, not the carrier's tracking: its name stands for the carrier (an
        # order marked shipped needs one in Kervan; a shop without shipping methods is its own carrier).
        carrier=(_method_name(row.get("shipping_method")) or row.get("store_name") or "OpenCart")[:60],
        shipped_at=first(OrderStatus.SHIPPED, OrderStatus.DELIVERED, RETURNED),
        delivered_at=first(OrderStatus.DELIVERED, RETURNED),
        cancelled_at=cancelled[-1] if cancelled else None,
        refunds=refunds,
    )


def _totals(rows: list[dict], rate: Decimal) -> dict:
    """Shipping (with OpenCart's fees: handling, low order fee), the discount, and the coupon codes."""
    shipping = discount = Decimal(0)
    coupons = []
    for row in rows:
        code, value = row.get("code") or "", _money(row.get("value"), rate)
        if code == "shipping" or (code not in KNOWN_CODES and value > 0):
            shipping += value
        elif code in DISCOUNT_CODES and value < 0:
            discount -= value
        if code == "coupon":
            found = _COUPON.search(row.get("title") or "")
            if found:
                coupons.append(found.group(1).strip())
    return {"shipping": shipping, "discount": discount, "coupons": tuple(coupons)}


def _lines(rows: list[dict], rate: Decimal, discount: Decimal) -> tuple[c.StoreLine, ...]:
    """The lines, the order's discount shared among them by their amounts (the last takes the rounding)."""
    prepared = []
    for row in rows:
        quantity = int(row.get("quantity") or 0)
        unit_price = _money(row.get("price"), rate)
        prepared.append((row, quantity, unit_price, _money(Decimal(str(row.get("tax") or 0)) * quantity, rate)))
    gross = sum((unit * qty for _r, qty, unit, _t in prepared), Decimal(0))
    left = min(discount, gross)
    lines = []
    for i, (row, quantity, unit_price, tax) in enumerate(prepared):
        amount = unit_price * quantity
        share = left if i == len(prepared) - 1 else (discount * amount / gross).quantize(CENT) if gross else Decimal(0)
        share = min(share, amount, left)
        left -= share
        lines.append(
            c.StoreLine(
                title=(row.get("name") or "").strip() or (row.get("model") or ""),
                quantity=quantity,
                unit_price=unit_price,
                sku=(row.get("model") or "").strip(),
                discount=share,
                tax=tax,
                external_id=str(row["order_product_id"]),
                product_id=str(row.get("product_id") or ""),
            )
        )
    return tuple(line for line in lines if line.quantity > 0)


def _method(value, part: str) -> str:
    """The "code" or "name" of a payment_method / shipping_method cell: JSON in OpenCart 4.0.2+, a name before."""
    text = (value or "").strip()
    if not text.startswith("{"):
        return text
    try:
        return str(json.loads(text).get(part) or "").strip()
    except (ValueError, AttributeError):
        return ""


def _method_name(value) -> str:
    return _method(value, "name")


def _payment_method(value) -> str:
    return PAYMENT_METHODS.get(_method(value, "code").split(".")[0].lower(), "")


# -- products -------------------------------------------------------------------------------------------------------


def product(row: dict, zone: zoneinfo.ZoneInfo, currency: str, base_url: str = "") -> c.StoreProduct:
    """A product row as a product with one variant: its model is the SKU (order lines name products by model).
    OpenCart's options (product_option_value) carry no SKU of their own, so they are not variants here."""
    base = base_url.rstrip("/")
    product_id = str(row["product_id"])
    quantity = row.get("quantity")
    return c.StoreProduct(
        external_id=product_id,
        title=(row.get("title") or "").strip() or (row.get("model") or "").strip() or product_id,
        currency=currency,
        variants=(
            c.StoreVariant(
                external_id=product_id,
                sku=(row.get("model") or "").strip(),
                price=_money(row.get("price")),
                stock=int(quantity) if quantity is not None and row.get("subtract", 1) else None,
            ),
        ),
        url=f"{base}/index.php?route=product/product&product_id={product_id}" if base else "",
        image_url=f"{base}/image/{row['image']}" if base and row.get("image") else "",
        active=bool(row.get("status")),
        updated_at=aware(row.get("date_modified"), zone),
    )
