"""Row batches the demo generator produces: table names, their columns, and value formats.

Values are already in the form both databases accept through a raw insert or COPY: money as "123.45"
strings, instants as UTC "YYYY-MM-DD HH:MM:SS" strings (the loader sets the session time zone to UTC on
PostgreSQL; it is Django's own storage format on SQLite), JSON as text. Columns a table leaves out are filled
by the writer with the model field's default.
"""

import datetime as dt

from kervan.customers.stats import LOAD_COLUMNS

# Table name → the model attribute names of its columns, in the order the generator writes them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "customer": (
        "id", "created_at", "updated_at", "first_name", "last_name", "email", "phone", "birth_date", "gender",
        "city", "language", "source_id", "consent_email", "consent_sms", "search_key", "name_key", "email_key",
    ),
    "customer_tag": ("id", "customer_id", "tag_id"),
    "identity": ("id", "customer_id", "kind", "value", "source_id", "created_at"),
    "consent": (
        "id", "customer_id", "channel", "status", "source", "proof", "occurred_at", "recorded_at", "address",
        "iys_channel", "iys_status", "iys_source",
    ),
    "order": (
        "id", "created_at", "updated_at", "source_id", "external_id", "number", "customer_id", "status",
        "subtotal", "discount_total", "tax_total", "shipping_total", "total", "refunded_total", "sales_channel",
        "marketplace", "utm_source", "utm_medium", "utm_campaign", "discount_codes", "placed_at",
        # TRY orders in a TRY-reporting shop: rate 1, the amounts as they are (kervan.orders.rates)
        "reporting_rate", "reporting_total", "reporting_refunded",
    ),
    "line": (
        "id", "order_id", "variant_id", "sku", "title", "quantity", "unit_price", "discount", "tax", "total",
        "returned_quantity",
    ),
    "payment": ("id", "order_id", "amount", "method", "provider", "reference", "installments", "status", "occurred_at"),
    "shipment": ("id", "order_id", "carrier", "tracking_number", "shipped_at", "delivered_at"),
    "status": ("id", "order_id", "customer_id", "status", "occurred_at", "details"),
    "return": ("id", "order_id", "customer_id", "reason", "note", "created_at"),
    "return_line": ("id", "return_request_id", "order_line_id", "quantity"),
    "refund": (
        "id", "order_id", "customer_id", "return_request_id", "amount", "reason", "note", "occurred_at",
        "reporting_amount",
    ),
    "stats": LOAD_COLUMNS,  # written by their owner, customers.stats.stats_load
    "event": ("id", "dedupe_key", "customer_id", "anonymous_id", "name", "occurred_at", "received_at", "properties",
              "source_id"),
}  # fmt: skip

# Parents before children, so every foreign key points at a row already written.
TABLE_ORDER = tuple(COLUMNS)
# Tables whose ids the generator assigns (CustomerStats uses the customer id as its key).
ID_TABLES = tuple(t for t in TABLE_ORDER if t != "stats")

_EPOCH = dt.date(1970, 1, 1)
_DAYS: dict[int, str] = {}
_CLOCK = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]


def fmt_ts(ts: int) -> str:
    """A UTC epoch second as "YYYY-MM-DD HH:MM:SS" (UTC)."""
    day, second = divmod(ts, 86400)
    text = _DAYS.get(day)
    if text is None:
        text = _DAYS[day] = (_EPOCH + dt.timedelta(days=day)).isoformat()
    return f"{text} {_CLOCK[second]}"


def fmt_money(kurus: int) -> str:
    """Kuruş (an int) as a decimal string with two places: 12345 → "123.45"."""
    return f"{kurus // 100}.{kurus % 100:02d}" if kurus >= 0 else "-" + fmt_money(-kurus)


def new_batch() -> dict[str, list[tuple]]:
    return {table: [] for table in TABLE_ORDER}
