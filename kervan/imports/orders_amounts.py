"""Amounts, statuses, returns and refunds of the orders an import plans (kervan.imports.orders_plan.Plan takes them
from OrderAmounts): each order's totals in its currency and the reporting one, the statuses it passes through, and the
cancellation documents that take goods back from earlier orders. Reads only, as the whole plan does."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from kervan.core.errors import KervanError
from kervan.core.money import check_amount
from kervan.imports import bulk
from kervan.imports.file_settings import REFUNDED, RETURNED
from kervan.imports.orders import Draft, Line
from kervan.imports.values import fold_choice
from kervan.orders.models import Order, OrderStatus
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


class OrderAmounts:
    """The order part of Plan (see kervan.imports.orders_plan): uses the plan's state set in Plan.__init__."""

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


def undoes_its_original(draft: Draft, status: str) -> bool:
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


def as_datetime(value) -> dt.datetime:
    """A datetime read with raw SQL: SQLite hands back UTC without a zone (or as text)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
