"""Order import: one row per order line, grouped by the order number column.

The customer is found (or created) by email, then phone, through customers.identity.customer_identify, and the
order is recorded through orders.actions.order_create, so CustomerStats, the order timeline and the events stay
right. An order is all or nothing: one bad line skips (and reports) all of its rows. Orders are keyed by
(import source, order number): importing the same file again leaves them as they are.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from kervan.catalog.models import Variant
from kervan.core.emails import normalize_email
from kervan.core.errors import KervanError, check_choice
from kervan.core.models import Source
from kervan.core.phones import normalize_phone
from kervan.imports.base import Importer, memoized, text
from kervan.imports.sources import IMPORT_SOURCE_KEY, import_source
from kervan.imports.values import (
    fold_choice,
    parse_currency,
    parse_datetime,
    parse_non_negative_amount,
    parse_quantity,
    parse_tags,
    split_full_name,
)
from kervan.orders.models import Marketplace, Order, OrderStatus, SalesChannel

LOOKUP_CHUNK = 900
ORDER_LEVEL = (
    "placed_at",
    "status",
    "currency",
    "email",
    "phone",
    "first_name",
    "last_name",
    "city",
    "shipping_total",
    "total",
    "sales_channel",
    "marketplace",
    "discount_codes",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "carrier",
    "tracking_number",
)

_STATUS = {
    OrderStatus.PLACED: (
        "placed",
        "new",
        "yeni",
        "beklemede",
        "alindi",
        "siparis alindi",
        "pending",
        "open",
        "on-hold",
        "acik",
    ),
    OrderStatus.PAID: ("paid", "odendi", "onaylandi", "odeme alindi", "processing", "hazirlaniyor"),
    OrderStatus.FULFILLED: ("fulfilled", "hazirlandi", "paketlendi"),
    OrderStatus.SHIPPED: ("shipped", "kargoda", "kargolandi", "kargoya verildi"),
    OrderStatus.DELIVERED: ("delivered", "teslim edildi", "completed", "tamamlandi"),
    OrderStatus.CANCELLED: ("cancelled", "canceled", "iptal", "iptal edildi"),
}
_STATUS_LOOKUP = {spelling: status for status, spellings in _STATUS.items() for spelling in spellings}
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
# How each imported status is reached: the status the order is created with, then the steps after it.
_PATH = {
    OrderStatus.PLACED: (OrderStatus.PLACED, ()),
    OrderStatus.PAID: (OrderStatus.PAID, ()),
    OrderStatus.DELIVERED: (OrderStatus.DELIVERED, ()),
    OrderStatus.FULFILLED: (OrderStatus.PAID, (OrderStatus.FULFILLED,)),
    OrderStatus.SHIPPED: (OrderStatus.PAID, (OrderStatus.SHIPPED,)),
    OrderStatus.CANCELLED: (OrderStatus.PLACED, (OrderStatus.CANCELLED,)),
}


def _status(raw: str) -> str:
    status = _STATUS_LOOKUP.get(fold_choice(raw))
    if status is None:
        raise KervanError(
            _("'%(value)s' is not an order status (placed, paid, fulfilled, shipped, delivered, cancelled).")
            % {"value": raw},
            "invalid_status",
        )
    return status


def _channel(raw: str) -> str:
    # A spelling shops use ("Web sitesi", "Pazaryeri") is looked up; anything else must be a channel as it stands.
    return check_choice(_CHANNEL.get(fold_choice(raw), raw), SalesChannel, field="sales_channel")


def _marketplace(raw: str) -> str:
    return check_choice(fold_choice(raw).replace(" ", ""), Marketplace, field="marketplace")


class OrderImport(Importer):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.orders: dict[str, list[tuple[int, list[str], dict | None]]] = {}

    def parser(self, field: str):
        parsers = {
            "order_number": text(64),
            "placed_at": memoized(parse_datetime),
            "status": memoized(_status),
            "currency": memoized(parse_currency),
            "email": normalize_email,
            "phone": normalize_phone,
            "first_name": text(100),
            "last_name": text(100),
            "full_name": split_full_name,
            "city": memoized(text(100)),
            "sku": text(64),
            "title": text(255),
            "quantity": parse_quantity,
            "unit_price": parse_non_negative_amount,
            "line_discount": parse_non_negative_amount,
            "line_tax": parse_non_negative_amount,
            "shipping_total": parse_non_negative_amount,
            "total": parse_non_negative_amount,
            "sales_channel": memoized(_channel),
            "marketplace": memoized(_marketplace),
            "discount_codes": parse_tags,
            "utm_source": text(100),
            "utm_medium": text(100),
            "utm_campaign": text(100),
            "carrier": text(60),
            "tracking_number": text(100),
        }
        if field not in parsers:
            raise KervanError(_("Unknown field %(field)s.") % {"field": field}, "unknown_field")
        return parsers[field]

    def check_row(self, number: int, cells: list[str]) -> None:
        values = self.parse(number, cells)
        order_number = (values or {}).get("order_number") or cells[self._index("order_number")].strip()
        if not order_number:
            self.row_error(number, cells, "order_number", _("Every row needs an order number."), "missing_order_number")
            self.report.skipped += 1
            return
        if values is not None and "full_name" in values:
            values["first_name"], values["last_name"] = values.pop("full_name")
        self.orders.setdefault(order_number, []).append((number, cells, values))

    def _index(self, field: str) -> int:
        return self.table.columns.index(self.column_of[field])

    def finish_check(self) -> None:
        skus = {v["sku"] for rows in self.orders.values() for _, _, v in rows if v and v.get("sku")}
        known_skus = set()
        sku_list = sorted(skus)
        for start in range(0, len(sku_list), LOOKUP_CHUNK):
            known_skus.update(
                Variant.objects.filter(sku__in=sku_list[start : start + LOOKUP_CHUNK]).values_list("sku", flat=True)
            )
        source = Source.objects.filter(key=IMPORT_SOURCE_KEY).first()
        numbers = sorted(self.orders)
        self.existing: set[str] = set()
        if source is not None:
            for start in range(0, len(numbers), LOOKUP_CHUNK):
                self.existing.update(
                    Order.objects.filter(
                        source=source, external_id__in=numbers[start : start + LOOKUP_CHUNK]
                    ).values_list("external_id", flat=True)
                )
        self.good: list[tuple[str, list[tuple[int, list[str], dict]], dict]] = []
        for order_number, rows in self.orders.items():
            reported = len(self.report.errors)
            header = self._check_order(order_number, rows, known_skus)
            if header is None:
                bad_rows = {e[0] for e in self.report.errors[reported:]}
                bad_rows.update(number for number, _, values in rows if values is None)
                for number, cells, _values in rows:
                    if number not in bad_rows:
                        self.row_error(
                            number,
                            cells,
                            "order_number",
                            _("Another row of order %(number)s has a problem.") % {"number": order_number},
                            "order_has_errors",
                        )
                self.report.skipped += len(rows)
            else:
                self.good.append((order_number, rows, header))
        self.orders = {}

    def _check_order(self, order_number: str, rows, known_skus: set[str]) -> dict | None:
        """The order-level values (first non-empty cell of each), or None if any row of the order is bad."""
        bad = any(values is None for _, _, values in rows)
        header: dict = {}
        for _number, _cells, values in rows:
            for name in ORDER_LEVEL:
                if values and name not in header and values.get(name) not in (None, ""):
                    header[name] = values[name]
        first_number, first_cells, _values = rows[0]
        if order_number in self.existing:
            return None if bad else header
        if "placed_at" not in header:
            self.row_error(first_number, first_cells, "placed_at", _("An order needs a date."), "missing_date")
            bad = True
        if "email" not in header and "phone" not in header:
            self.row_error(
                first_number,
                first_cells,
                "email" if "email" in self.column_of else "phone",
                _("An order needs the customer's email or phone number."),
                "missing_identity",
            )
            bad = True
        if header.get("status") == OrderStatus.SHIPPED and not header.get("carrier"):
            self.row_error(
                first_number, first_cells, "status", _("A shipped order needs a carrier column."), "missing_carrier"
            )
            bad = True
        for number, cells, values in rows:
            if values is None:
                continue
            for name, reason in (
                ("quantity", _("A line needs a quantity.")),
                ("unit_price", _("A line needs a price.")),
            ):
                if name not in values:
                    self.row_error(number, cells, name, reason, f"missing_{name}")
                    bad = True
            if not values.get("title") and values.get("sku") not in known_skus:
                reason = (
                    _("SKU '%(sku)s' is not in the catalogue and the row has no product title.")
                    % {"sku": values["sku"]}
                    if values.get("sku")
                    else _("A line needs a SKU or a product title.")
                )
                self.row_error(number, cells, "sku" if values.get("sku") else "title", reason, "unknown_sku")
                bad = True
        return None if bad else header

    def write(self, first_ids: dict[str, int]) -> None:
        from kervan.customers.identity import customer_identify
        from kervan.orders.actions import NewOrder, order_create, order_set_status

        source = import_source()
        for order_number, rows, header in self.good:
            if order_number in self.existing:
                self.report.unchanged += len(rows)
                continue
            lines = [
                {
                    "sku": v.get("sku", ""),
                    "title": v.get("title", ""),
                    "quantity": v["quantity"],
                    "unit_price": v["unit_price"],
                    "discount": v.get("line_discount", 0),
                    "tax": v.get("line_tax", 0),
                }
                for _, _, v in rows
            ]
            create_as, then = _PATH[header.get("status", OrderStatus.PLACED)]
            try:
                with transaction.atomic():
                    customer, _created = customer_identify(
                        actor=self.actor,
                        email=header.get("email", ""),
                        phone=header.get("phone", ""),
                        traits={k: header[k] for k in ("first_name", "last_name", "city") if k in header},
                    )
                    new_order = NewOrder(
                        customer=customer,
                        lines=lines,
                        placed_at=header["placed_at"],
                        currency=header.get("currency"),
                        shipping_total=header.get("shipping_total", 0),
                        total=header.get("total"),
                        source=source,
                        external_id=order_number,
                        number=order_number,
                        status=create_as,
                        sales_channel=header.get("sales_channel", SalesChannel.WEB),
                        marketplace=header.get("marketplace", ""),
                        utm_source=header.get("utm_source", ""),
                        utm_medium=header.get("utm_medium", ""),
                        utm_campaign=header.get("utm_campaign", ""),
                        discount_codes=header.get("discount_codes", ()),
                    )
                    # Imported orders are history: today's stock already reflects them.
                    order, created = order_create(actor=self.actor, new_order=new_order, adjust_stock=False)
                    if created:
                        for status in then:
                            order_set_status(
                                actor=self.actor,
                                order=order,
                                status=status,
                                occurred_at=header["placed_at"],
                                carrier=header.get("carrier", ""),
                                tracking_number=header.get("tracking_number", ""),
                            )
            except KervanError as exc:
                number, cells, _values = rows[0]
                field = "order_number"
                self.row_error(
                    number,
                    cells,
                    field,
                    _("Order %(number)s: %(detail)s") % {"number": order_number, "detail": exc.detail},
                    exc.code,
                )
                self.report.skipped += len(rows)
                continue
            if created:
                self.report.imported += len(rows)
            else:
                self.report.unchanged += len(rows)
