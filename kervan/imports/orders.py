"""Order import: checking a file of orders, as shops export them.

A file has one row per order line grouped into orders by the order-number column (the UCI invoice layout, Shopify),
one row per order with its lines encoded in cells (WooCommerce's line_item_N), or one row per order without lines
(Magento's order grid: then the order keeps its totals). The order-level values (date, customer, status, shipping …)
come from the order's rows; two rows that say different things are one error for the order.

What a row may hold beyond a sale, and what it becomes (kervan.imports.orders_plan):
- a negative quantity: goods coming back. In an order that also sells the product, a return (and its refund) of it;
- a cancellation document (its number starts with the file's cancellation prefix, or every line is negative): a
  return and refund on the order it cancels (named by the "original order" column, else the customer's latest
  earlier order holding the product), or that order's cancellation when it takes all of it back before delivery;
- a refunded amount, WooCommerce refund items, a "refunded"/"returned" status: refunds (and returns) of the order.
None of these is refused as a bad quantity.

Customers are matched by the shop's own customer id (an Identity "store customer id" of the import's source), then
email, then phone; a row with none of them is a guest order (see orders_plan). Contact details that cannot be read
(a malformed email or phone, an unknown country) are reported and left out; the order is still imported.

Checking reads the file once, keeping per order only its parsed values and lines; nothing is written until every
row is checked (kervan.imports.orders_write writes the plan in bulk).
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from kervan.core.emails import normalize_email
from kervan.core.errors import KervanError, check_choice
from kervan.imports.base import Importer, memoized, text
from kervan.imports.codes import country_code
from kervan.imports.fields import field_labels
from kervan.imports.file_settings import FileSettings, clean_settings
from kervan.imports.values import (
    amount_parser,
    datetime_parser,
    fold_choice,
    parse_currency_code,
    parse_signed_quantity,
    parse_tags,
    split_full_name,
)
from kervan.orders.models import Marketplace, SalesChannel

# Values of the order, read from any of its rows.
ORDER_LEVEL = (
    "order_name",
    "placed_at",
    "status",
    "currency",
    "customer_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "full_name",
    "city",
    "country",
    "shipping_total",
    "total",
    "refunded_amount",
    "original_order",
    "paid_at",
    "cancelled_at",
    "fulfillment_status",
    "sales_channel",
    "marketplace",
    "discount_codes",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "carrier",
    "tracking_number",
    "refund_items",
)
# The line's values, in the order _line reads them; line_item is WooCommerce's encoded lines.
LINE_SLOTS = ("sku", "title", "quantity", "unit_price", "line_total", "line_discount", "line_tax", "line_shipping",
              "line_item")  # fmt: skip
ENCODED = LINE_SLOTS.index("line_item")
ZERO = Decimal(0)
CENT = Decimal("0.01")
# Order-level cells that are contact or address details: one that cannot be read is reported and left out.
SOFT = {"email", "country"}
# Two rows of an invoice printed across a minute boundary: dates this close are the same order's (the earliest kept).
SAME_TIME = 3600

_CHANNEL = {
    "web": SalesChannel.WEB,
    "web sitesi": SalesChannel.WEB,
    "website": SalesChannel.WEB,
    "online": SalesChannel.WEB,
    "mobile_app": SalesChannel.MOBILE_APP,
    "mobile app": SalesChannel.MOBILE_APP,
    "mobil": SalesChannel.MOBILE_APP,
    "mobil uygulama": SalesChannel.MOBILE_APP,
    "app": SalesChannel.MOBILE_APP,
    "marketplace": SalesChannel.MARKETPLACE,
    "pazaryeri": SalesChannel.MARKETPLACE,
    "pos": SalesChannel.POS,
    "magaza": SalesChannel.POS,
    "store": SalesChannel.POS,
    "phone": SalesChannel.PHONE,
    "telefon": SalesChannel.PHONE,
}
_STORE_ID_FLOAT = re.compile(r"(\d+)\.0+")  # 17850.0: a number column round-tripped through a spreadsheet


def _channel(raw: str) -> str:
    # A spelling shops use ("Web sitesi", "Pazaryeri") is looked up; anything else must be a channel as it stands.
    return check_choice(_CHANNEL.get(fold_choice(raw), raw), SalesChannel, field="sales_channel")


def _marketplace(raw: str) -> str:
    return check_choice(fold_choice(raw).replace(" ", ""), Marketplace, field="marketplace")


def store_customer_id(raw: str) -> str:
    value = raw.strip()[:254]
    match = _STORE_ID_FLOAT.fullmatch(value)
    return match[1] if match else value


def _country(raw: str) -> str:
    code = country_code(raw)
    if code is None:
        raise KervanError(
            _("'%(value)s' is not a country name or two-letter code; the order is imported without it.")
            % {"value": raw},
            "invalid_country",
        )
    return code


@dataclass(slots=True)
class Line:
    row: int
    sku: str
    title: str
    quantity: int  # negative: goods coming back
    unit_price: Decimal
    discount: Decimal
    tax: Decimal
    shipping: Decimal  # line_shipping, added up into the order's shipping


@dataclass(slots=True, eq=False)
class Draft:
    """One order number's rows as checked: its order-level values, its lines, what was wrong."""

    number: str
    first_row: int
    rows: int = 0
    lines: list[Line] = field(default_factory=list)
    values: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)  # field → the first cell text seen (a repeat is not parsed again)
    where: dict = field(default_factory=dict)  # field → the row it was first seen in
    bad: bool = False  # a cell of one of its rows was reported
    failed: set = field(default_factory=set)  # order-level fields whose cell could not be read
    conflict: tuple | None = None  # (field, row, first value, other value)


class OrderImport(Importer):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.settings: FileSettings = clean_settings(self.job.options)
        self.labels = field_labels(self.job.kind)
        self.drafts: dict[str, Draft] = {}
        self.number_index = next(i for field_name, i, _p in self.plan if field_name == "order_number")
        self.order_plan = [(f, i, p) for f, i, p in self.plan if f in ORDER_LEVEL]
        self.line_slots = [
            (LINE_SLOTS.index(f), i, p, {}) for f, i, p in self.plan if f not in ORDER_LEVEL and f != "order_number"
        ]
        self.has_lines = bool(self.line_slots)
        self.summary: dict = {}
        self.planned = None  # kervan.imports.orders_plan.Plan, made once every row is checked

    def parser(self, field_name: str):
        amount = memoized(amount_parser(self.job.options.get("decimal", "auto")))
        when = memoized(datetime_parser(self.job.options.get("date_order", "dmy"), self._zone()))
        parsers = {
            "order_number": text(64),
            "order_name": text(64),
            "placed_at": when,
            "paid_at": when,
            "cancelled_at": when,
            "status": memoized(text(100)),
            "fulfillment_status": memoized(text(100)),
            "currency": memoized(parse_currency_code),
            "customer_id": memoized(store_customer_id),
            "email": normalize_email,
            "phone": text(40),  # read with the order's country (orders_plan)
            "first_name": memoized(text(100)),
            "last_name": memoized(text(100)),
            "full_name": memoized(split_full_name),
            "city": memoized(text(100)),
            "country": memoized(_country),
            "sku": memoized(text(64)),
            "title": memoized(text(255)),
            "quantity": memoized(parse_signed_quantity),
            "unit_price": amount,
            "line_total": amount,
            "line_discount": amount,
            "line_tax": amount,
            "line_shipping": amount,
            "shipping_total": amount,
            "total": amount,
            "refunded_amount": amount,
            "original_order": text(64),
            "sales_channel": memoized(_channel),
            "marketplace": memoized(_marketplace),
            "discount_codes": memoized(parse_tags),
            "utm_source": memoized(text(100)),
            "utm_medium": memoized(text(100)),
            "utm_campaign": memoized(text(100)),
            "carrier": memoized(text(60)),
            "tracking_number": text(100),
            "line_item": str.strip,
            "refund_items": str.strip,
        }
        if field_name not in parsers:
            raise KervanError(_("Unknown field %(field)s.") % {"field": field_name}, "unknown_field")
        return parsers[field_name]

    def _zone(self) -> str:
        zone = self.job.options.get("time_zone") or ""
        if not zone and self.job.source_id:
            zone = self.job.source.time_zone
        return zone or ""

    # -- checking, row by row ---------------------------------------------------------------------------------------

    def check_row(self, number: int, cells: list[str]) -> None:
        order_number = cells[self.number_index].strip()
        if not order_number:
            self.row_error(number, cells, "order_number", _("Every row needs an order number."), "missing_order_number")
            self.report.skipped += 1
            return
        if len(order_number) > 64:
            self.row_error(
                number, cells, "order_number", _("At most %(limit)s characters.") % {"limit": 64}, "too_long"
            )
            self.report.skipped += 1
            return
        draft = self.drafts.get(order_number)
        if draft is None:
            draft = self.drafts[order_number] = Draft(order_number, number)
        draft.rows += 1
        bad = False
        raw_seen, values = draft.raw, draft.values
        for name, i, parse in self.order_plan:
            raw = cells[i]
            if not raw:
                continue
            if raw[0].isspace() or raw[-1].isspace():
                raw = raw.strip()
                if not raw:
                    continue
            first = raw_seen.get(name)
            if first == raw:
                continue
            try:
                value = parse(raw)
            except KervanError as exc:
                reason = exc.detail
                if name == "email":  # a contact detail: the order goes in without it
                    reason = _("%(detail)s The order is imported without it.") % {"detail": exc.detail}
                self.report.error(number, self.column_of[name], raw, reason, exc.code)
                if name in SOFT:
                    raw_seen.setdefault(name, raw)  # reported once for the order, not on each of its rows
                else:
                    draft.failed.add(name)
                    bad = True
                continue
            if name not in values:
                raw_seen[name] = raw
                values[name] = value
                draft.where[name] = number
            elif value != values[name] and draft.conflict is None:
                if name == "placed_at" and abs((value - values[name]).total_seconds()) <= SAME_TIME:
                    values[name] = min(value, values[name])
                else:
                    draft.conflict = (name, number, raw_seen[name], raw)
        if self.has_lines:
            bad = self._line(draft, number, cells) or bad
        if bad:
            draft.bad = True

    def _line(self, draft: Draft, number: int, cells: list[str]) -> bool:
        """Add the row's line (or WooCommerce's encoded lines) to the draft; True if a cell was bad.

        The hot loop of a big file: each line field's parsed values are cached by cell text here (a file has a few
        thousand products and prices over hundreds of thousands of lines)."""
        values = [None] * len(LINE_SLOTS)
        bad = False
        found = False
        for slot, i, parse, cache in self.line_slots:
            raw = cells[i]
            if not raw:
                continue
            value = cache.get(raw)
            if value is None:
                text_value = raw.strip()
                if not text_value:
                    continue
                try:
                    value = parse(text_value)
                except KervanError as exc:
                    self.report.error(number, self.table.columns[i], text_value, exc.detail, exc.code)
                    bad = True
                    continue
                if slot == ENCODED:
                    try:
                        draft.lines.append(self._encoded_line(number, value))
                    except KervanError as exc:
                        self.report.error(number, self.table.columns[i], text_value, exc.detail, exc.code)
                        bad = True
                    continue
                if len(cache) < 200_000:
                    cache[raw] = value
            values[slot] = value
            found = True
        if bad or not found:
            return bad
        sku, title, quantity, price, line_total, discount, tax, shipping, _encoded = values
        if quantity is None:
            quantity = 1
        if price is None and line_total is not None:
            price = (line_total / abs(quantity)).quantize(CENT)
        problem = None
        if price is None:
            problem = ("unit_price", _("A line needs a price."), "missing_unit_price")
        elif price < 0:
            problem = ("unit_price", _("'%(value)s' cannot be negative.") % {"value": price}, "invalid_amount")
        elif not sku and not title:
            problem = ("title", _("A line needs a SKU or a product title."), "missing_product")
        if problem is not None:
            name, reason, code = problem
            if name not in self.column_of and name == "unit_price" and "line_total" in self.column_of:
                name = "line_total"
            self.row_error(number, cells, name, reason, code)
            return True
        draft.lines.append(
            Line(number, sku or "", title or "", quantity, price, discount or ZERO, tax or ZERO, shipping or ZERO)
        )
        return False

    def _encoded_line(self, number: int, cell: str) -> Line:
        """WooCommerce's "name:Formal shoe|product_id:13|sku:A12|quantity:1|total:8.00|tax:1.44"."""
        parts = dict(part.split(":", 1) for part in cell.split("|") if ":" in part)
        try:
            quantity = parse_signed_quantity(parts.get("quantity", "1"))
            total = amount_parser(".")(parts.get("total", "") or "0")
            tax = amount_parser(".")(parts.get("tax", "") or "0")
        except KervanError as exc:
            raise KervanError(
                _("The line item '%(value)s' cannot be read: %(detail)s") % {"value": cell[:200], "detail": exc.detail},
                exc.code,
            )
        title = (parts.get("name") or "").strip()[:255]
        sku = (parts.get("sku") or "").strip()[:64]
        if not title and not sku:
            raise KervanError(
                _("The line item '%(value)s' names no product.") % {"value": cell[:200]}, "missing_product"
            )
        price = (total / abs(quantity)).quantize(Decimal("0.01"))
        return Line(number, sku, title, quantity, price, Decimal(0), tax, Decimal(0))

    # -- once every row is read --------------------------------------------------------------------------------------

    def finish_check(self) -> None:
        from kervan.imports.orders_plan import Plan

        with self.timed("plan_seconds"):
            self.planned = Plan(self)
            self.planned.make(self.drafts)
        self.drafts = {}

    def reserve(self) -> dict[str, int]:
        return self.planned.reserve()

    def write(self, first_ids: dict[str, int]) -> None:
        from kervan.imports.orders_write import OrderWriter

        OrderWriter(self, self.planned).write(first_ids)
        self.report.imported += self.planned.imported_rows
        self.summary = self.planned.summary()

    # -- reporting helpers -------------------------------------------------------------------------------------------

    def order_error(self, draft: Draft, field_name: str, reason: str, code: str, row: int | None = None) -> None:
        """One problem of an order as a whole, on the row that shows it (the order's first row by default)."""
        column = self.column_of.get(field_name, "") or self.column_of_field("order_number")
        value = draft.raw.get(field_name, "") if field_name != "order_number" else draft.number
        self.report.error(row or draft.where.get(field_name, draft.first_row), column, value, reason, code)

    def column_of_field(self, field_name: str) -> str:
        return self.column_of.get(field_name, "")


def parse_refund_items(cell: str, when, amount) -> list[tuple[Decimal, str, object, str]]:
    """WooCommerce's refund_items: "amount:46.00|reason:refund|date:2019-06-19 12:13:48", several separated by ";"
    → [(amount, reason, date or None, id)]. An "id:…" part (a store's refund id, as a backfill writes it) becomes the
    refund's external id, so the store's later word on the same refund is recognised."""
    found = []
    for item in filter(None, (part.strip() for part in cell.split(";"))):
        parts = dict(part.split(":", 1) for part in item.split("|") if ":" in part)
        value = amount(parts.get("amount", "") or "")
        date = when(parts["date"]) if parts.get("date") else None
        found.append((value, (parts.get("reason") or "").strip()[:500], date, (parts.get("id") or "").strip()[:100]))
    return found
