"""From checked order drafts to a plan of rows to write: customers found or made, amounts, statuses, returns, refunds.

Everything here reads (identities, existing orders, exchange rates, the catalogue) and nothing writes, so a plan can
be shown (a dry run) or refused (refuse mode) before the import's one transaction begins.

Guest orders. A row with no customer id, email or phone is a guest order: it is kept, with a customer profile of its
own (no contact details, tagged "guest"). Not one shared "guest" profile per source: that profile would become the
shop's biggest customer by far and skew every per-customer figure (RFM, lifetime value, top customers, the average
order); a profile per guest order counts each guest as the one-time buyer the file shows. Not an order without a
customer: Order.customer is required because CustomerStats, the timeline, segments and merges are all per customer;
with a profile the guest's revenue is in every report like any other order's. Without an email or phone nobody can
message the profile, and the tag lets segments leave guests out.

Cancellation documents. A document (its number starts with the file's cancellation prefix, every line of it is
negative, or its status is returned, refunded or cancelled and it names an original order) takes goods back from an
earlier order: the order it names in the "original order" column, if mapped; otherwise the customer's latest earlier
order in the file that holds the same product (SKU, else title) with units not yet taken back — what the UCI layout
implies, as it names no original. Units so matched become a return (and its refund, at the document's prices) on that
order; if the document takes back the whole of an order not yet shipped, the order is cancelled instead. Units
matching no order (their sale is older than the file, or a guest's) are kept as a cancelled order of their own, which
changes no totals: the sale they undo is not in Kervan either.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from kervan.catalog.models import Variant
from kervan.core.emails import email_match_key
from kervan.core.errors import KervanError
from kervan.core.models import Source
from kervan.core.money import check_amount
from kervan.core.phones import normalize_phone
from kervan.customers.models import Customer, Identity
from kervan.imports import bulk
from kervan.imports.file_settings import REFUNDED, RETURNED, SKIP
from kervan.imports.orders import Draft, Line, parse_refund_items
from kervan.imports.sources import IMPORT_SOURCE_KEY
from kervan.imports.values import amount_parser, datetime_parser, fold_choice
from kervan.orders.models import Order, OrderLine, OrderStatus, Refund, Return
from kervan.orders.rates import order_rate

ZERO = Decimal(0)
CENT = Decimal("0.01")
# The statuses an imported order passes through to reach its final one, as the order actions would record them:
# order_create starts it as placed, paid or delivered; order_set_status takes the rest.
PATHS = {
    OrderStatus.PLACED: (OrderStatus.PLACED,),
    OrderStatus.PAID: (OrderStatus.PLACED, OrderStatus.PAID),
    OrderStatus.FULFILLED: (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.FULFILLED),
    OrderStatus.SHIPPED: (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.SHIPPED),
    OrderStatus.DELIVERED: (OrderStatus.PLACED, OrderStatus.DELIVERED),
    OrderStatus.CANCELLED: (OrderStatus.PLACED, OrderStatus.CANCELLED),
    RETURNED: (OrderStatus.PLACED, OrderStatus.DELIVERED),
    REFUNDED: (OrderStatus.PLACED, OrderStatus.PAID),
}
CANCELLABLE = (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.FULFILLED)
GUEST_TAG = "guest"


@dataclass(slots=True)
class ReturnPlan:
    lines: list[tuple[int, int]]  # (index of the order's line, units)
    at: dt.datetime
    external_id: str
    refund: Decimal  # the refund that goes with it (0: none)


@dataclass(slots=True)
class RefundPlan:
    amount: Decimal
    at: dt.datetime
    external_id: str = ""
    note: str = ""
    return_index: int | None = None


@dataclass(slots=True)
class PaymentPlan:
    """A payment of the order (related payment files fill these: method, installments, amount, date)."""

    amount: Decimal
    at: dt.datetime
    method: str = "card"
    installments: int = 1
    provider: str = ""
    reference: str = ""


@dataclass(slots=True, eq=False)
class PlannedOrder:
    number: str
    first_row: int
    rows: int
    owner: int  # ≥ 0 an existing customer's id, < 0 the new customer -1 - owner
    placed_at: dt.datetime
    currency: str
    lines: list[Line]  # every quantity positive
    values: dict
    status_path: list[tuple[str, dt.datetime]]
    subtotal: Decimal = ZERO
    discount_total: Decimal = ZERO
    tax_total: Decimal = ZERO
    shipping: Decimal = ZERO
    total: Decimal = ZERO
    refunded: Decimal = ZERO
    returns: list[ReturnPlan] = field(default_factory=list)
    refunds: list[RefundPlan] = field(default_factory=list)
    payments: list[PaymentPlan] = field(default_factory=list)
    left: list[int] = field(default_factory=list)  # units of each line not yet taken back
    document: bool = False  # a cancellation document kept as a cancelled order of its own
    rate: Decimal | None = None

    @property
    def status(self) -> str:
        return self.status_path[-1][0]

    def refundable(self) -> Decimal:
        return self.total - self.refunded


@dataclass(slots=True)
class NewCustomer:
    first_at: dt.datetime
    last_at: dt.datetime
    values: dict
    guest: bool = False


@dataclass(slots=True)
class Keys:
    store_id: str = ""
    email: str = ""  # as typed (normalised)
    email_key: str = ""  # its mailbox: what identities hold
    phone: str = ""


class Plan:
    def __init__(self, importer) -> None:
        self.importer = importer
        self.report = importer.report
        self.settings = importer.settings
        self.job = importer.job
        self.source: Source | None = self.job.source or Source.objects.filter(key=IMPORT_SOURCE_KEY).first()
        self.source_id = self.source.pk if self.source else None
        self.orders: list[PlannedOrder] = []
        self.new_customers: list[NewCustomer] = []
        self.known: set[int] = set()  # existing customers with orders in the file
        self.fill: dict[int, dict] = {}  # existing customers' empty fields the file fills, newest order first
        self.fill_at: dict[int, dt.datetime] = {}
        self.new_identities: dict[tuple[str, str], int] = {}  # (kind, value) → owner
        # Documents that take goods back from orders imported before: (order id, lines, time, draft), written through
        # the order actions (return_create, refund_create), which keep those orders' totals right.
        self.later: list[tuple[int, list[Line], dt.datetime, Draft]] = []
        self.counts = {
            "orders": 0,
            "lines": 0,
            "returns": 0,
            "refunds": 0,
            "payments": 0,
            "cancellations": 0,
            "guest_orders": 0,
            "orders_unchanged": 0,
            "orders_skipped": 0,
            "skipped_by_status": 0,
            "customers_created": 0,
            "customers_matched": 0,
        }
        self.rates: dict[tuple[str, dt.date], Decimal | None] = {}
        self.imported_rows = 0  # rows of the orders and documents the plan writes
        amount = amount_parser(self.settings.decimal)
        when = datetime_parser(self.settings.date_order, importer._zone())
        self.read_refunds = lambda cell: parse_refund_items(cell, when, amount)
        self.phones: dict[tuple[str, str], str | None] = {}

    # -- the whole plan ----------------------------------------------------------------------------------------------

    def make(self, drafts: dict[str, Draft]) -> None:
        good: list[tuple[Draft, str, Keys]] = []
        for draft in drafts.values():
            status = self._usable(draft)
            if status is None:
                self._skip(draft)
                continue
            if status == SKIP:
                self.counts["skipped_by_status"] += 1
                self.report.skipped += draft.rows
                continue
            good.append((draft, status, self._keys(draft)))
        good = self._known_products(good)
        good = self._not_imported_before(good)
        owners = self._customers(good)
        prefix = self.settings.cancel_prefix
        by_number: dict[str, PlannedOrder] = {}
        documents = []
        for (draft, status, _keys), owner in zip(good, owners, strict=True):
            is_document = bool(draft.lines) and (
                (prefix and draft.number.startswith(prefix))
                or all(line.quantity < 0 for line in draft.lines)
                or _undoes_its_original(draft, status)
            )
            if is_document:
                documents.append((draft, owner))
                continue
            order = self._order(draft, status, owner)
            if order is not None:
                by_number[order.number] = order
                self.orders.append(order)
                self.imported_rows += draft.rows
        self._documents(documents, by_number)
        self._prefetch_rates()
        for order in self.orders:
            self._rate(order)
            self.counts["orders"] += 1
            self.counts["lines"] += len(order.lines)
            self.counts["returns"] += len(order.returns)
            self.counts["refunds"] += len(order.refunds)
            self.counts["payments"] += len(order.payments)
            if order.status == OrderStatus.CANCELLED:
                self.counts["cancellations"] += 1
            if order.owner < 0 and self.new_customers[-1 - order.owner].guest:
                self.counts["guest_orders"] += 1
        self.counts["customers_created"] = sum(1 for c in self.new_customers if not c.guest)
        self.counts["guest_customers"] = sum(1 for c in self.new_customers if c.guest)
        self.counts["customers_matched"] = len(self.known)

    def reserve(self) -> dict[str, int]:
        return {
            Customer._meta.db_table: len(self.new_customers),
            Order._meta.db_table: len(self.orders),
            OrderLine._meta.db_table: sum(len(o.lines) for o in self.orders),
            Return._meta.db_table: sum(len(o.returns) for o in self.orders),
            Refund._meta.db_table: sum(len(o.refunds) for o in self.orders),
        }

    def summary(self) -> dict:
        return dict(self.counts)

    # -- checks of each order ----------------------------------------------------------------------------------------

    def _skip(self, draft: Draft) -> None:
        self.counts["orders_skipped"] += 1
        self.report.skipped += draft.rows

    def _usable(self, draft: Draft) -> str | None:
        """The order's status (or SKIP), or None when the order cannot be imported (its one error reported)."""
        importer = self.importer
        if draft.bad:
            return None  # its cells' errors are reported
        if draft.conflict is not None:
            name, row, first, other = draft.conflict
            importer.order_error(
                draft,
                name,
                _("Order %(number)s: its rows disagree on %(field)s ('%(first)s', then '%(other)s').")
                % {"number": draft.number, "field": importer.labels[name], "first": first, "other": other},
                "order_conflict",
                row=row,
            )
            return None
        if "placed_at" not in draft.values:
            importer.order_error(draft, "placed_at", _("An order needs a date."), "missing_date")
            return None
        raw = draft.values.get("status")
        status = self.settings.default_status
        if raw:
            status = self.settings.status_of(raw)
            if status is None:
                importer.order_error(
                    draft,
                    "status",
                    _("'%(value)s' is not a status this import maps to an order status.") % {"value": raw},
                    "unmapped_status",
                )
                return None
        if not draft.lines and "total" not in draft.values:
            importer.order_error(
                draft,
                "total" if "total" in importer.column_of else "order_number",
                _("Order %(number)s has no lines and no total.") % {"number": draft.number},
                "no_lines",
            )
            return None
        return status

    def _keys(self, draft: Draft) -> Keys:
        values = draft.values
        keys = Keys()
        store_id = values.get("customer_id", "")
        if store_id and store_id not in self.settings.guest_ids:
            keys.store_id = store_id
        if values.get("email"):
            keys.email = values["email"]
            keys.email_key = email_match_key(keys.email)
        if draft.raw.get("phone"):
            keys.phone = self._phone(draft) or ""
        if "full_name" in values:
            values["first_name"], values["last_name"] = values.pop("full_name")
        return keys

    def _phone(self, draft: Draft) -> str | None:
        raw = draft.raw["phone"]
        region = draft.values.get("country") or self.settings.phone_region or settings.KERVAN_DEFAULT_PHONE_REGION
        key = (raw, region)
        if key not in self.phones:
            try:
                self.phones[key] = normalize_phone(raw, region)
            except KervanError as exc:
                self.phones[key] = None
                self.report.error(
                    draft.where["phone"],
                    self.importer.column_of["phone"],
                    raw,
                    _("%(detail)s The order is imported without it.") % {"detail": exc.detail},
                    exc.code,
                )
        return self.phones[key]

    def _known_products(self, good):
        """The catalogue's variants of the file's SKUs: a line of a known SKU is linked to it (and takes its title
        when the row has none); an unknown SKU without a title is its own title (Olist's items name a product id
        only)."""
        self.variants: dict[str, tuple[int, str]] = {}  # sku → (variant id, its title)
        skus = sorted({line.sku for draft, _s, _k in good for line in draft.lines if line.sku})
        for start in range(0, len(skus), 900):
            chunk = skus[start : start + 900]
            for variant in Variant.objects.filter(sku__in=chunk).select_related("product"):
                self.variants[variant.sku] = (variant.pk, str(variant)[:255])
        for draft, _status, _keys in good:
            for line in draft.lines:
                if not line.title:
                    known = self.variants.get(line.sku)
                    line.title = known[1] if known else line.sku
        return good

    def _not_imported_before(self, good):
        """Orders of this source imported before are left as they are (unchanged), or reported if the file now says
        otherwise; so are cancellation documents already recorded (as an order, a return or a refund)."""
        if self.source_id is None or not good:
            return good
        numbers = [draft.number for draft, _s, _k in good]
        table = Order._meta.db_table
        sql = f"SELECT external_id, placed_at, total, currency FROM {table} WHERE source_id = %s"
        existing = {row[0]: row[1:] for row in bulk.select_where_in(sql, "external_id", numbers, (self.source_id,))}
        for model in (Return, Refund):
            sql = (
                f"SELECT r.external_id FROM {model._meta.db_table} r JOIN {table} o ON o.id = r.order_id "
                "WHERE o.source_id = %s"
            )
            for (external_id,) in bulk.select_where_in(sql, "r.external_id", numbers, (self.source_id,)):
                existing.setdefault(external_id, None)
        if not existing:
            return good
        kept = []
        for draft, status, keys in good:
            if draft.number not in existing:
                kept.append((draft, status, keys))
                continue
            stored = existing[draft.number]
            if stored is not None and _as_datetime(stored[0]) != draft.values["placed_at"]:
                self.importer.order_error(
                    draft,
                    "placed_at",
                    _("Order %(number)s was imported before with another date; it is left as it was.")
                    % {"number": draft.number},
                    "order_conflict",
                )
                self._skip(draft)
                continue
            self.counts["orders_unchanged"] += 1
            self.report.unchanged += draft.rows
        return kept

    # -- customers ---------------------------------------------------------------------------------------------------

    def _customers(self, good) -> list[int]:
        """The owner of each order: an existing customer's id (≥ 0) or a new customer (-1 - index)."""
        all_keys = [keys for _d, _s, keys in good]
        db: dict[str, dict[str, int]] = {"source_id": {}, "email": {}, "phone": {}}
        table = Identity._meta.db_table
        store_ids = sorted({k.store_id for k in all_keys if k.store_id})
        if store_ids and self.source_id is not None:
            sql = f"SELECT value, customer_id FROM {table} WHERE kind = %s AND source_id = %s"
            db["source_id"] = dict(bulk.select_where_in(sql, "value", store_ids, ("source_id", self.source_id)))
        for kind, attr in (("email", "email_key"), ("phone", "phone")):
            wanted = sorted({getattr(k, attr) for k in all_keys if getattr(k, attr)})
            sql = f"SELECT value, customer_id FROM {table} WHERE kind = %s AND source_id IS NULL"
            db[kind] = dict(bulk.select_where_in(sql, "value", wanted, (kind,)))
        survivor = self._survivors({i for found in db.values() for i in found.values()})
        new: dict[str, dict[str, int]] = {"source_id": {}, "email": {}, "phone": {}}
        owners = []
        for draft, _status, keys in good:
            wanted = (("source_id", keys.store_id), ("email", keys.email_key), ("phone", keys.phone))
            owner = None
            for kind, value in wanted:
                if value:
                    found = db[kind].get(value)
                    if found is not None:
                        owner = survivor.get(found, found)
                        break
                    if value in new[kind]:
                        owner = new[kind][value]
                        break
            placed_at = draft.values["placed_at"]
            if owner is None:
                owner = -1 - len(self.new_customers)
                self.new_customers.append(
                    NewCustomer(placed_at, placed_at, {}, guest=not any(value for _kind, value in wanted))
                )
            elif owner >= 0:
                self.known.add(owner)
            for kind, value in wanted:
                if value and value not in db[kind] and value not in new[kind]:
                    new[kind][value] = owner
                    self.new_identities[(kind, value)] = owner
            self._profile(owner, draft, keys, placed_at)
            owners.append(owner)
        return owners

    def _survivors(self, ids: set[int]) -> dict[int, int]:
        """{merged customer id: the profile that holds them now}, following merges to their end."""
        survivor: dict[int, int] = {}
        wanted = sorted(ids)
        sql = f"SELECT id, merged_into_id FROM {Customer._meta.db_table} WHERE merged_into_id IS NOT NULL"
        while wanted:
            found = dict(bulk.select_where_in(sql, "id", wanted))
            for merged, into in found.items():
                survivor[merged] = into
            wanted = sorted(set(found.values()) - set(survivor))
        for merged in list(survivor):
            end = survivor[merged]
            while end in survivor:
                end = survivor[end]
            survivor[merged] = end
        return survivor

    def _profile(self, owner: int, draft: Draft, keys: Keys, placed_at: dt.datetime) -> None:
        """The customer's details from their orders, the latest order's winning: a new customer's profile, or the
        empty fields of an existing one (history never overwrites what a profile says now)."""
        details = {
            name: draft.values[name]
            for name in ("first_name", "last_name", "city", "country")
            if draft.values.get(name)
        }
        if keys.email and self.new_identities.get(("email", keys.email_key)) == owner:
            details["email"] = keys.email
        if keys.phone and self.new_identities.get(("phone", keys.phone)) == owner:
            details["phone"] = keys.phone
        if owner < 0:
            customer = self.new_customers[-1 - owner]
            customer.first_at = min(customer.first_at, placed_at)
            if placed_at >= customer.last_at or not customer.values:
                customer.values.update(details)
                customer.last_at = max(customer.last_at, placed_at)
            else:
                for name, value in details.items():
                    customer.values.setdefault(name, value)
            return
        if owner not in self.fill_at or placed_at >= self.fill_at[owner]:
            self.fill.setdefault(owner, {}).update(details)
            self.fill_at[owner] = placed_at
        else:
            for name, value in details.items():
                self.fill[owner].setdefault(name, value)

    # -- amounts and statuses ----------------------------------------------------------------------------------------

    def _order(self, draft: Draft, status: str, owner: int) -> PlannedOrder | None:
        values = draft.values
        placed_at = values["placed_at"]
        currency = values.get("currency") or self.settings.currency or self._source_currency()
        sold = [line for line in draft.lines if line.quantity > 0]
        back = [line for line in draft.lines if line.quantity < 0]
        order = PlannedOrder(
            number=draft.number,
            first_row=draft.first_row,
            rows=draft.rows,
            owner=owner,
            placed_at=placed_at,
            currency=currency,
            lines=sold,
            values=values,
            status_path=[],
        )
        try:
            self._amounts(order, draft)
        except KervanError as exc:
            self.importer.order_error(
                draft, "total", _("Order %(number)s: %(detail)s") % {"number": draft.number, "detail": exc.detail},
                exc.code,
            )  # fmt: skip
            self._skip(draft)
            return None
        order.left = [line.quantity for line in sold]
        order.status_path = self._path(status, values, placed_at)
        problem = None
        if back:
            unmatched = self._take_back(order, back, placed_at, draft.number)
            amount = sum((_line_total(line) for line in unmatched), ZERO)
            if amount:
                if amount > order.refundable():
                    problem = _("its returned lines come to more than its total.")
                else:
                    order.refunds.append(RefundPlan(amount, placed_at))
                    order.refunded += amount
        refunds = []
        if status in (RETURNED, REFUNDED):
            if status == RETURNED and any(order.left):
                lines = [(i, units) for i, units in enumerate(order.left) if units]
                order.returns.append(ReturnPlan(lines, placed_at, "", ZERO))
                order.left = [0] * len(order.left)
            refunds.append((order.refundable(), "", placed_at, ""))
        elif values.get("refunded_amount"):
            refunds.append(
                (values["refunded_amount"] - order.refunded, "", values.get("cancelled_at") or placed_at, "")
            )
        if values.get("refund_items"):
            try:
                refunds += [
                    (a, note, when or placed_at, ref)
                    for a, note, when, ref in self.read_refunds(values["refund_items"])
                ]
            except KervanError as exc:
                problem = exc.detail
        for amount, note, when, ref in refunds:
            if amount <= 0 or problem:
                continue
            if amount > order.refundable():
                problem = _("the refunds come to more than its total.")
                break
            order.refunds.append(RefundPlan(amount, when, external_id=ref, note=note))
            order.refunded += amount
        if problem:
            self.importer.order_error(
                draft, "refunded_amount" if "refunded_amount" in self.importer.column_of else "order_number",
                _("Order %(number)s: %(detail)s") % {"number": draft.number, "detail": problem}, "invalid_refund",
            )  # fmt: skip
            self._skip(draft)
            return None
        return order

    def _source_currency(self) -> str:
        if self.job.source_id and self.job.source.currency:
            return self.job.source.currency
        return settings.KERVAN_DEFAULT_CURRENCY

    def _amounts(self, order: PlannedOrder, draft: Draft) -> None:
        values = draft.values
        subtotal = discount = tax = shipping = ZERO
        for line in order.lines:
            subtotal += line.unit_price * line.quantity
            discount += line.discount
            tax += line.tax
            shipping += line.shipping
        if "shipping_total" in values:
            shipping = values["shipping_total"]
        order.subtotal = check_amount(subtotal, "subtotal")
        order.discount_total = check_amount(discount, "discount_total")
        order.tax_total = check_amount(tax, "tax_total")
        order.shipping = check_amount(shipping, "shipping_total")
        computed = check_amount(subtotal - discount + tax + shipping, "total")
        order.total = values.get("total", computed)
        if order.total < 0:
            raise KervanError(_("total cannot be negative."), "invalid_amount", field="total")
        for line in order.lines:
            if line.discount < 0 or line.tax < 0:
                raise KervanError(_("amounts cannot be negative."), "invalid_amount")
        if order.shipping < 0:
            raise KervanError(_("shipping cannot be negative."), "invalid_amount")

    def _path(self, status: str, values: dict, placed_at: dt.datetime) -> list[tuple[str, dt.datetime]]:
        fulfilled = fold_choice(values.get("fulfillment_status", "")).replace("_", " ")
        if fulfilled in ("fulfilled", "shipped", "delivered") and status in (OrderStatus.PLACED, OrderStatus.PAID):
            status = OrderStatus.FULFILLED
        cancelled_at = values.get("cancelled_at")
        if cancelled_at and status not in CANCELLABLE + (OrderStatus.CANCELLED, REFUNDED):
            status = OrderStatus.PAID
        path = [(s, placed_at) for s in PATHS[status]]
        paid_at = values.get("paid_at")
        if paid_at:
            path = [(s, paid_at if s == OrderStatus.PAID else at) for s, at in path]
        if cancelled_at:
            if path[-1][0] == OrderStatus.CANCELLED:
                path[-1] = (OrderStatus.CANCELLED, cancelled_at)
            else:
                path.append((OrderStatus.CANCELLED, cancelled_at))
        return path

    def _take_back(self, order: PlannedOrder, back: list[Line], at: dt.datetime, external_id: str) -> list[Line]:
        """Return `back`'s units from `order`'s lines of the same product; the lines (or parts) that match none are
        returned."""
        taken: list[tuple[int, int]] = []
        refund = ZERO
        unmatched = []
        for line in back:
            need = -line.quantity
            for i, sold in enumerate(order.lines):
                if need and order.left[i] and _same_product(sold, line):
                    units = min(need, order.left[i])
                    order.left[i] -= units
                    taken.append((i, units))
                    refund += units * line.unit_price
                    need -= units
            if need:
                unmatched.append(_with_quantity(line, -need))
        if taken:
            refund = min(refund, order.refundable())
            order.returns.append(ReturnPlan(taken, at, external_id, refund))
            if refund > 0:
                order.refunds.append(RefundPlan(refund, at, external_id, return_index=len(order.returns) - 1))
                order.refunded += refund
        return unmatched

    def _documents(self, documents, by_number: dict[str, PlannedOrder]) -> None:
        """Cancellation documents, in time order: each onto the order it cancels (see the module's docstring)."""
        by_owner: dict[int, list[PlannedOrder]] = {}
        for order in self.orders:
            by_owner.setdefault(order.owner, []).append(order)
        for orders in by_owner.values():
            orders.sort(key=lambda o: o.placed_at, reverse=True)
        documents.sort(key=lambda d: d[0].values["placed_at"])
        earlier = []
        for draft, owner in documents:
            self.imported_rows += draft.rows
            at = draft.values["placed_at"]
            back = [_with_quantity(line, -abs(line.quantity)) for line in draft.lines]
            original = draft.values.get("original_order")
            if original:
                target = by_number.get(original)
                if target is None:
                    earlier.append((original, back, at, draft, owner))
                    continue
                candidates = [target]
            else:
                candidates = [o for o in by_owner.get(owner, ()) if o.placed_at <= at and not o.document]
            for order in candidates:
                if not back:
                    break
                before = len(order.returns)
                whole = not order.returns and not order.refunds and order.status in CANCELLABLE
                back = self._take_back(order, back, at, draft.number)
                if whole and len(order.returns) > before and not any(order.left) and not back:
                    # The document takes back all of an order not yet shipped: the order was cancelled.
                    order.returns.pop()
                    if order.refunds and order.refunds[-1].return_index is not None:
                        order.refunded -= order.refunds.pop().amount
                    order.left = [line.quantity for line in order.lines]
                    order.status_path.append((OrderStatus.CANCELLED, at))
            if back:
                self._standalone(draft, owner, back, at)
        if earlier:
            self._earlier(earlier)

    def _earlier(self, documents) -> None:
        """Documents naming an order that is not in the file: one imported before takes them (self.later); without
        one they stand alone."""
        found = {}
        if self.source_id is not None:
            sql = f"SELECT external_id, id FROM {Order._meta.db_table} WHERE source_id = %s"
            numbers = sorted({original for original, *_rest in documents})
            found = dict(bulk.select_where_in(sql, "external_id", numbers, (self.source_id,)))
        for original, back, at, draft, owner in documents:
            if original in found:
                self.later.append((found[original], back, at, draft))
            else:
                self._standalone(draft, owner, back, at)

    def _standalone(self, draft: Draft, owner: int, back: list[Line], at: dt.datetime) -> None:
        lines = [_with_quantity(line, -line.quantity) for line in back]
        order = PlannedOrder(
            number=draft.number,
            first_row=draft.first_row,
            rows=draft.rows,
            owner=owner,
            placed_at=at,
            currency=draft.values.get("currency") or self.settings.currency or self._source_currency(),
            lines=lines,
            values=draft.values,
            status_path=[(OrderStatus.PLACED, at), (OrderStatus.CANCELLED, at)],
            document=True,
        )
        try:
            self._amounts(order, Draft(draft.number, draft.first_row))
        except KervanError as exc:
            self.importer.order_error(draft, "order_number", exc.detail, exc.code)
            self._skip(draft)
            self.imported_rows -= draft.rows
            return
        order.left = [line.quantity for line in lines]
        self.orders.append(order)

    def _prefetch_rates(self) -> None:
        """The rates of every (currency, day) the orders need, from one read of the rates table, as
        kervan.orders.rates.order_rate gives them one by one (the latest rate published on or before the day, within
        LOOKBACK; the reporting currency's own rate divides it; 8 places): a two-year history needs some 1,500 of
        those reads, each a round trip."""
        import bisect

        from kervan.currency.models import ExchangeRate
        from kervan.currency.selectors import LOOKBACK, reporting_currency
        from kervan.orders.rates import RATE_PLACES

        wanted = {(order.currency, timezone.localdate(order.placed_at)) for order in self.orders}
        wanted -= set(self.rates)
        if not wanted:
            return
        target = reporting_currency()
        days = [day for _currency, day in wanted]
        published: dict[str, tuple[list, list]] = {}
        rows = ExchangeRate.objects.filter(
            currency__in={c for c, _d in wanted} | {target}, on__gt=min(days) - LOOKBACK, on__lte=max(days)
        ).order_by("currency", "on")
        for currency, on, value in rows.values_list("currency", "on", "try_per_unit"):
            found = published.setdefault(currency, ([], []))
            found[0].append(on)
            found[1].append(value)

        def try_per_unit(currency: str, day: dt.date) -> Decimal | None:
            if currency == "TRY":
                return Decimal(1)
            ons, values = published.get(currency, ([], []))
            i = bisect.bisect_right(ons, day) - 1
            return values[i] if i >= 0 and ons[i] > day - LOOKBACK else None

        for currency, day in wanted:
            if currency == target:
                self.rates[(currency, day)] = Decimal(1).quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)
                continue
            source, reporting = try_per_unit(currency, day), try_per_unit(target, day)
            rate = None if source is None or reporting is None else source / reporting
            self.rates[(currency, day)] = None if rate is None else rate.quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)

    def _rate(self, order: PlannedOrder) -> None:
        key = (order.currency, timezone.localdate(order.placed_at))
        if key not in self.rates:
            self.rates[key] = order_rate(order.currency, order.placed_at)
        order.rate = self.rates[key]


def _undoes_its_original(draft: Draft, status: str) -> bool:
    """A document the status column marks: its status undoes a sale and it names another order as its original (an
    "İade Faturası" of F-1, its quantities written positive). Without an original, a returned or cancelled status is
    the order's own (and so with WooCommerce's parent id 0, which names none)."""
    original = draft.values.get("original_order", "")
    return (
        bool(original.strip("0"))
        and original != draft.number
        and status in (RETURNED, REFUNDED, OrderStatus.CANCELLED)
        and all(line.quantity > 0 for line in draft.lines)
    )


def _line_total(line: Line) -> Decimal:
    return abs(line.quantity) * line.unit_price - line.discount + line.tax


def _same_product(sold: Line, back: Line) -> bool:
    if sold.sku or back.sku:
        return sold.sku == back.sku
    return fold_choice(sold.title) == fold_choice(back.title)


def _with_quantity(line: Line, quantity: int) -> Line:
    return Line(line.row, line.sku, line.title, quantity, line.unit_price, line.discount, line.tax, line.shipping)


def _as_datetime(value) -> dt.datetime:
    """A datetime read with raw SQL: SQLite hands back UTC without a zone (or as text)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
