"""What a store or payment platform tells Kervan, in Kervan's terms: each platform's mapping turns a webhook payload or
an API page into these, and kervan.integrations.sync writes them through Kervan's own actions (one way in, whatever
the platform). Plain data: ids are strings exactly as the platform wrote them (Shopify's exceed 2^53 — never a
float), money is Decimal with its currency, times are aware.

`updated_at` is the platform's own modification time of the object: kervan.integrations.sync keeps the newest seen
per object and ignores an older one (a retry, an out-of-order delivery), so nothing is counted twice and an older
update never overwrites a newer one.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, kw_only=True)
class StoreCustomer:
    external_id: str = ""  # the platform's customer id ("" for a guest)
    email: str = ""
    phone: str = ""
    first_name: str = ""
    last_name: str = ""
    city: str = ""
    country: str = ""  # ISO 3166 alpha-2
    language: str = ""
    birth_date: dt.date | None = None
    tags: tuple[str, ...] = ()
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, kw_only=True)
class StoreLine:
    title: str
    quantity: int
    unit_price: Decimal
    sku: str = ""
    discount: Decimal = Decimal(0)  # the line's whole discount
    tax: Decimal = Decimal(0)  # the line's whole tax
    external_id: str = ""  # the platform's line id
    product_id: str = ""
    variant_id: str = ""


@dataclass(frozen=True, kw_only=True)
class StoreRefund:
    external_id: str
    amount: Decimal
    occurred_at: dt.datetime
    reason: str = ""  # free text from the platform (kept as the refund's note)
    # Units taken back: (index of the line in StoreOrder.lines, or its sku when the refund arrives on its own, units).
    lines: tuple[tuple[str, int], ...] = ()
    restock: bool = False  # the store put the units back in its stock (its new count reaches Kervan on its own)


@dataclass(frozen=True, kw_only=True)
class StoreOrder:
    external_id: str  # the platform's order id: the order's key in Kervan (Order.external_id for its source)
    number: str  # what the customer sees (#1001)
    customer: StoreCustomer
    placed_at: dt.datetime
    currency: str
    lines: tuple[StoreLine, ...]
    status: str  # a Kervan OrderStatus (map the platform's words with kervan.imports.file_settings.suggested_status)
    updated_at: dt.datetime | None = None
    shipping_total: Decimal = Decimal(0)
    total: Decimal | None = None  # what the platform charged; None: lines + shipping
    discount_codes: tuple[str, ...] = ()
    sales_channel: str = ""  # a Kervan SalesChannel; "" the web store
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    paid_at: dt.datetime | None = None
    payment_method: str = ""
    cancelled_at: dt.datetime | None = None
    shipped_at: dt.datetime | None = None
    carrier: str = ""
    tracking_number: str = ""
    delivered_at: dt.datetime | None = None
    refunds: tuple[StoreRefund, ...] = ()
    test: bool = False  # a platform's test order (kept: the shop decides; flagged in the delivery's result)


@dataclass(frozen=True, kw_only=True)
class OrderRefunds:
    """Refunds arriving on their own (Shopify refunds/create, WooCommerce refund, Stripe charge.refunded)."""

    order_external_id: str
    refunds: tuple[StoreRefund, ...]


@dataclass(frozen=True, kw_only=True)
class OrderPayment:
    """A payment platform's word on an order of the store (iyzico, Stripe): paid, failed, or refunded."""

    order_external_id: str  # the STORE's order id or number the payment names (conversation id, metadata)
    status: str  # "paid" | "failed" | "refunded"
    amount: Decimal
    currency: str
    occurred_at: dt.datetime
    reference: str = ""  # the payment platform's id (payment id, charge id)
    method: str = "card"
    installments: int = 1
    customer: StoreCustomer | None = None


@dataclass(frozen=True, kw_only=True)
class OrderDeleted:
    external_id: str


@dataclass(frozen=True, kw_only=True)
class CustomerDeleted:
    external_id: str


@dataclass(frozen=True, kw_only=True)
class StoreVariant:
    external_id: str
    sku: str
    title: str = ""
    price: Decimal | None = None
    compare_at_price: Decimal | None = None
    stock: int | None = None  # units on hand when the platform tracks them


@dataclass(frozen=True, kw_only=True)
class StoreProduct:
    external_id: str
    title: str
    currency: str
    variants: tuple[StoreVariant, ...]
    url: str = ""
    image_url: str = ""
    category: str = ""
    active: bool = True
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ProductDeleted:
    external_id: str


@dataclass(frozen=True, kw_only=True)
class StockLevel:
    sku: str
    stock: int
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Checkout:
    """An abandoned (or started) checkout: recorded as a "Started Checkout" event with the cart, for the flows."""

    token: str  # the platform's checkout/cart token: the event's dedupe key with updated_at
    customer: StoreCustomer
    currency: str
    lines: tuple[StoreLine, ...]
    total: Decimal
    recovery_url: str = ""
    occurred_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    completed: bool = False  # became an order: no event


@dataclass(frozen=True, kw_only=True)
class ConsentChange:
    customer: StoreCustomer
    channel: str  # "email" | "sms"
    granted: bool
    occurred_at: dt.datetime
    proof: str = ""  # the platform's words (opt-in level, state), kept in the ledger


@dataclass(frozen=True, kw_only=True)
class PrivacyRequest:
    """A platform's data-protection request: "export" the customer's data, "erase" the customer or the whole shop."""

    kind: str  # "export" | "erase_customer" | "erase_shop"
    customer: StoreCustomer | None = None
    order_external_ids: tuple[str, ...] = ()
    request_id: str = ""


Record = (
    StoreCustomer
    | StoreOrder
    | OrderRefunds
    | OrderPayment
    | OrderDeleted
    | CustomerDeleted
    | StoreProduct
    | ProductDeleted
    | StockLevel
    | Checkout
    | ConsentChange
    | PrivacyRequest
)


@dataclass
class Page:
    """One page of a backfill: the records read and the cursor of the next page (None: the end)."""

    records: list = field(default_factory=list)
    next_cursor: dict | None = None
    total: int | None = None  # the platform's count of everything, when it says
