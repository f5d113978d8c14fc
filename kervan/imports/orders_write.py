"""Writing an order import's plan in bulk, inside the import's one transaction (COPY on PostgreSQL, executemany on
SQLite): the rows the order actions would write, for a whole file at once.

For each order, as order_create and order_set_status record it: the order, its lines, its status rows (the order
timeline), a shipment when a carrier is known, the events ("Placed Order", one "Ordered Product" per line, the
status events after the first status, "Returned Product", "Refunded Order") with the actions' dedupe keys; returns
and refunds as return_create and refund_create record them. New customers with their identities (store customer
id, email, phone) and stats rows; existing customers' empty name, city, email or phone filled from their latest
order. The customers' aggregates are then summed from what was written (customers.stats.stats_replace, the one
writer of CustomerStats) and their "last seen" moved forward. The job's one audit row is written by the caller.

Imported orders are history: today's stock already reflects them, so no stock moves. Documents that take goods back
from orders imported before go through return_create and refund_create themselves (there are few of them).
"""

import datetime as dt
import time
from decimal import Decimal

import orjson
from django.conf import settings

from kervan.core import clock
from kervan.core.emails import email_match_key
from kervan.currency.selectors import convert
from kervan.customers import stats
from kervan.customers.consent_state import consent_caches_refresh
from kervan.customers.models import Customer, Identity, Tag
from kervan.customers.search import search_keys
from kervan.events.models import CanonicalEvent, Event
from kervan.imports import bulk
from kervan.imports.customers_write import CUSTOMER_COLUMNS
from kervan.imports.orders_amounts import PlannedOrder
from kervan.imports.orders_plan import GUEST_TAG, Plan
from kervan.imports.sources import import_source
from kervan.orders.actions.returns import returns_settle
from kervan.orders.models import (
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    Payment,
    Refund,
    Return,
    ReturnLine,
    ReturnReason,
    Shipment,
)

STATUS_EVENTS = {
    OrderStatus.FULFILLED: CanonicalEvent.FULFILLED_ORDER,
    OrderStatus.SHIPPED: CanonicalEvent.SHIPPED_ORDER,
    OrderStatus.DELIVERED: CanonicalEvent.DELIVERED_ORDER,
    OrderStatus.CANCELLED: CanonicalEvent.CANCELLED_ORDER,
}
# fmt: off
ORDER_COLUMNS = (
    "id", "created_at", "updated_at", "source_id", "external_id", "number", "customer_id", "status", "currency",
    "subtotal", "discount_total", "tax_total", "shipping_total", "total", "refunded_total", "reporting_rate",
    "reporting_total", "reporting_refunded", "sales_channel", "marketplace", "utm_source", "utm_medium",
    "utm_campaign", "discount_codes", "placed_at", "shipping_country", "shipping_city",
)
LINE_COLUMNS = (
    "id", "order_id", "variant_id", "sku", "title", "quantity", "unit_price", "discount", "tax", "total",
    "returned_quantity",
)
STATUS_COLUMNS = ("order_id", "customer_id", "status", "occurred_at", "actor_id", "details")
SHIPMENT_COLUMNS = ("order_id", "carrier", "tracking_number", "shipped_at", "delivered_at")
RETURN_COLUMNS = ("id", "order_id", "customer_id", "reason", "note", "external_id", "created_at", "actor_id")
RETURN_LINE_COLUMNS = ("return_request_id", "order_line_id", "quantity")
REFUND_COLUMNS = (
    "id", "order_id", "customer_id", "return_request_id", "amount", "currency", "reporting_amount", "reason", "note",
    "external_id", "occurred_at", "actor_id",
)
PAYMENT_COLUMNS = ("order_id", "amount", "currency", "method", "provider", "reference", "installments", "status",
                   "occurred_at")
EVENT_COLUMNS = ("dedupe_key", "customer_id", "anonymous_id", "name", "occurred_at", "received_at", "properties",
                 "source_id")
IDENTITY_COLUMNS = ("kind", "value", "customer_id", "source_id", "created_at")
FILL_COLUMNS = ("first_name", "last_name", "email", "phone", "city", "search_key", "name_key", "email_key",
                "updated_at")
# fmt: on
ZERO = Decimal(0)
BULK_TABLES = (
    Order._meta.db_table,
    OrderLine._meta.db_table,
    OrderStatusChange._meta.db_table,
    Event._meta.db_table,
)


def _json(value) -> str:
    return orjson.dumps(value).decode()


class OrderWriter:
    def __init__(self, importer, plan: Plan) -> None:
        self.importer = importer
        self.plan = plan
        self.actor = importer.actor
        self.actor_id = importer.actor.user_id
        self.timed = importer.timed
        self._times: dict[dt.datetime, str] = {}

    def when(self, value: dt.datetime | None) -> str | None:
        """A datetime as the database stores it (converted once per distinct value)."""
        if value is None:
            return None
        text = self._times.get(value)
        if text is None:
            text = self._times[value] = bulk.db_datetime(value)
        return text

    def write(self, first_ids: dict[str, int]) -> None:
        plan = self.plan
        self.source = self.importer.job.source or import_source()
        self.now = clock.now()
        self.now_db = self.when(self.now)
        first_customer = first_ids.get(Customer._meta.db_table, 0)
        self.customer_id = lambda owner: owner if owner >= 0 else first_customer - 1 - owner
        with self.timed("customers_seconds"):
            self._customers(first_customer)
        with self.timed("orders_seconds"):
            self._orders(first_ids)
        if plan.later:
            with self.timed("earlier_orders_seconds"):
                self._earlier_orders()
        with self.timed("stats_seconds"):
            self._stats()

    def _stats(self) -> None:
        """New customers' aggregates are those of the file's orders, summed here as CustomerStats defines them and
        loaded with their rows (customers.stats.stats_load); customers who had a profile before are summed again
        from all their orders (stats_replace) and their "last seen" moved forward (last_event_bump)."""
        from kervan.customers.models import average_order_value
        from kervan.orders.stats_rebuild import customer_totals

        plan = self.plan
        first = self.customer_id(-1)
        rows = []
        for i in range(len(plan.new_customers)):
            t = self.new_totals.get(first + i)
            cid = first + i
            if t is None:
                rows.append((cid, ZERO, 0, ZERO, None, None, 0, ZERO, self.last_event.get(cid)))
                continue
            spent, count, first_at, last_at, returns, refunded = t
            rows.append(
                (cid, spent, count, average_order_value(spent, count), first_at, last_at, returns, refunded,
                 self.last_event.get(cid))
            )  # fmt: skip
        stats.stats_load(rows)
        existing = sorted({o.owner for o in plan.orders if o.owner >= 0} | set(self.later_customers))
        stats.stats_replace(existing, customer_totals)
        bumps = {cid: self.last_event[cid] for cid in existing if cid in self.last_event}
        wanted = sorted(bumps)
        for start in range(0, len(wanted), 500):  # its SQLite statement grows with the batch: keep it small
            stats.last_event_bump({cid: bumps[cid] for cid in wanted[start : start + 500]})

    def _count(self, customer: int, order: PlannedOrder, reporting_total, reporting_refunded, converted) -> None:
        """Add `order` to a new customer's aggregates (as kervan.orders.stats_rebuild.customer_totals sums them)."""
        spent, count, first_at, last_at, returns, refunded = self.new_totals.get(
            customer, (ZERO, 0, None, None, 0, ZERO)
        )
        if order.rate is not None and order.status != OrderStatus.CANCELLED:
            spent += reporting_total - reporting_refunded
            count += 1
            first_at = order.placed_at if first_at is None else min(first_at, order.placed_at)
            last_at = order.placed_at if last_at is None else max(last_at, order.placed_at)
        returns += len(order.returns)
        refunded += sum((c for c in converted if c is not None), ZERO)
        self.new_totals[customer] = (spent, count, first_at, last_at, returns, refunded)

    # -- customers ---------------------------------------------------------------------------------------------------

    def _customers(self, first: int) -> None:
        plan = self.plan
        keys = search_keys()
        now = self.now_db
        country = settings.KERVAN_DEFAULT_COUNTRY
        zone = settings.TIME_ZONE
        source = str(self.source.pk)

        def rows():
            for i, customer in enumerate(plan.new_customers):
                v = customer.values
                first_name, last_name = v.get("first_name", ""), v.get("last_name", "")
                email, phone, city = v.get("email", ""), v.get("phone", ""), v.get("city", "")
                search_key, name_key = keys(first_name, last_name, email, phone, city)
                yield (
                    first + i, self.when(customer.first_at), now, first_name, last_name, email, phone, None, "",
                    city, v.get("country") or country, "", zone, "{}", "", "", "", "", "", search_key, name_key,
                    source, email_match_key(email) if email else "",
                )  # fmt: skip

        if plan.new_customers:
            bulk.insert_rows(Customer._meta.db_table, CUSTOMER_COLUMNS, rows())
            guests = [first + i for i, c in enumerate(plan.new_customers) if c.guest]
            if guests:
                tag, _created = Tag.objects.get_or_create(name=GUEST_TAG)
                bulk.insert_rows(
                    Customer.tags.through._meta.db_table, ("customer_id", "tag_id"), ((g, tag.pk) for g in guests)
                )
        source_id = self.source.pk
        identities = [
            (kind, value, self.customer_id(owner), source_id if kind == Identity.Kind.SOURCE_ID else None, now)
            for (kind, value), owner in plan.new_identities.items()
        ]
        bulk.insert_rows(Identity._meta.db_table, IDENTITY_COLUMNS, identities)
        self._fill(keys)

    def _fill(self, keys) -> None:
        """Existing customers' empty name, city, email and phone, from their latest order in the file."""
        plan = self.plan
        wanted = sorted(cid for cid, values in plan.fill.items() if values)
        if not wanted:
            return
        columns = ("id", "first_name", "last_name", "email", "phone", "city")
        sql = f"SELECT {', '.join(columns)} FROM {Customer._meta.db_table} WHERE 1 = 1"
        rows = []
        moved = []
        for row in bulk.select_where_in(sql, "id", wanted):
            current = dict(zip(columns, row, strict=True))
            cid = current.pop("id")
            changed = False
            for name in ("first_name", "last_name", "email", "phone", "city"):
                value = plan.fill[cid].get(name)
                if value and not current[name]:
                    current[name] = value
                    changed = True
                    if name in ("email", "phone"):
                        moved.append(cid)
            if changed:
                search_key, name_key = keys(
                    current["first_name"], current["last_name"], current["email"], current["phone"], current["city"]
                )
                email_key = email_match_key(current["email"]) if current["email"] else ""
                rows.append(
                    (*(current[n] for n in FILL_COLUMNS[:5]), search_key, name_key, email_key, self.now_db, cid)
                )
        bulk.update_rows(Customer._meta.db_table, FILL_COLUMNS, rows)
        if moved:  # an address new to the profile may have consent on the ledger already
            consent_caches_refresh(sorted(set(moved)))

    # -- orders ------------------------------------------------------------------------------------------------------

    def _orders(self, first_ids: dict[str, int]) -> None:
        plan = self.plan
        order_id = first_ids.get(Order._meta.db_table, 0)
        line_id = first_ids.get(OrderLine._meta.db_table, 0)
        return_id = first_ids.get(Return._meta.db_table, 0)
        refund_id = first_ids.get(Refund._meta.db_table, 0)
        orders, lines, changes, shipments, returns, return_lines, refunds, events = ([] for _ in range(8))
        payments = []
        self.last_event: dict[int, dt.datetime] = {}
        self.later_customers: list[int] = []
        self.new_totals: dict[int, tuple] = {}
        source_id, actor_id, now = self.source.pk, self.actor_id, self.now_db
        variants = plan.variants

        def event(key: str, customer: int, name: str, at: dt.datetime, properties: dict) -> None:
            events.append((key, customer, "", name, self.when(at), now, _json(properties), source_id))
            if at > self.last_event.get(customer, at - dt.timedelta(1)):
                self.last_event[customer] = at

        for order in plan.orders:
            customer = self.customer_id(order.owner)
            values = order.values
            rate = order.rate
            placed = self.when(order.placed_at)
            # The order number column is the store's key (the external id); the number customers see may be its own
            # column (a store's API: Shopify's id 820982911946154508 is order #1001).
            external_id, number = order.number, values.get("order_name") or order.number
            channel = values.get("sales_channel") or plan.settings.sales_channel
            # Refunds in the reporting currency: the converted refunded total after each less the one before.
            refunded = ZERO
            refund_rows = []
            for refund in order.refunds:
                converted = None
                if rate is not None:
                    converted = convert(refunded + refund.amount, rate) - convert(refunded, rate)
                refunded += refund.amount
                refund_rows.append((refund, converted))
            reporting_total = None if rate is None else convert(order.total, rate)
            reporting_refunded = None if rate is None else convert(refunded, rate)
            if order.owner < 0:
                self._count(customer, order, reporting_total, reporting_refunded, [c for _r, c in refund_rows])
            first_line = line_id
            returned = [0] * len(order.lines)
            for ret in order.returns:
                for i, units in ret.lines:
                    returned[i] += units
            orders.append(
                (
                    order_id, now, now, source_id, external_id, number, customer, order.status, order.currency,
                    str(order.subtotal), str(order.discount_total), str(order.tax_total), str(order.shipping),
                    str(order.total), str(refunded), None if rate is None else str(rate),
                    None if rate is None else str(reporting_total),
                    None if rate is None else str(reporting_refunded),
                    channel, values.get("marketplace") or plan.settings.marketplace,
                    values.get("utm_source", ""), values.get("utm_medium", ""), values.get("utm_campaign", ""),
                    _json(values.get("discount_codes", [])), placed, values.get("country", ""),
                    values.get("city", ""),
                )
            )  # fmt: skip
            event(
                f"order:{order_id}:placed", customer, CanonicalEvent.PLACED_ORDER, order.placed_at,
                {"order_id": order_id, "number": number, "value": str(order.total), "currency": order.currency,
                 "items": len(order.lines), "sales_channel": channel},
            )  # fmt: skip
            ordered = CanonicalEvent.ORDERED_PRODUCT
            for i, line in enumerate(order.lines):  # the hot loop: half a million lines, as many events
                sku = line.sku
                variant = variants.get(sku) if sku else None
                title = line.title or (variant[1] if variant else "")
                total = str(line.unit_price * line.quantity - line.discount + line.tax)
                lines.append(
                    (
                        line_id, order_id, variant[0] if variant else None, sku, title, line.quantity,
                        str(line.unit_price), str(line.discount), str(line.tax), total, returned[i],
                    )
                )  # fmt: skip
                properties = _json(
                    {"order_id": order_id, "sku": sku, "title": title, "quantity": line.quantity, "value": total}
                )
                events.append((f"order:{order_id}:line:{i}", customer, "", ordered, placed, now, properties, source_id))
                line_id += 1
            carrier = values.get("carrier", "")
            tracking = values.get("tracking_number", "")
            path = order.status_path
            created_as = path[1][0] if len(path) > 1 and path[1][0] in (OrderStatus.PAID, OrderStatus.DELIVERED) else ""
            for n, (status, at) in enumerate(path):
                details = {}
                if status == OrderStatus.SHIPPED or (status == OrderStatus.DELIVERED and carrier):
                    details = {k: v for k, v in (("carrier", carrier), ("tracking_number", tracking)) if v}
                changes.append((order_id, customer, status, self.when(at), actor_id, _json(details)))
                if n == 0 or (n == 1 and status == created_as) or status not in STATUS_EVENTS:
                    continue
                event(
                    f"order:{order_id}:{status}", customer, STATUS_EVENTS[status], at,
                    {"order_id": order_id, "number": number, "value": str(order.total), **details},
                )  # fmt: skip
            statuses = {s for s, _at in path}
            if carrier and statuses & {OrderStatus.SHIPPED, OrderStatus.DELIVERED}:
                shipped_at = next(at for s, at in path if s in (OrderStatus.SHIPPED, OrderStatus.DELIVERED))
                delivered_at = next((at for s, at in path if s == OrderStatus.DELIVERED), None)
                shipments.append((order_id, carrier, tracking, self.when(shipped_at), self.when(delivered_at)))
            for payment in order.payments:
                payments.append(
                    (order_id, str(payment.amount), order.currency, payment.method, payment.provider,
                     payment.reference, payment.installments, Payment.Status.CAPTURED, self.when(payment.at))
                )  # fmt: skip
            ret_ids = []
            for ret in order.returns:
                ret_ids.append(return_id)
                returns.append(
                    (
                        return_id,
                        order_id,
                        customer,
                        ReturnReason.OTHER,
                        "",
                        ret.external_id,
                        self.when(ret.at),
                        actor_id,
                    )
                )
                for i, units in ret.lines:
                    sold = order.lines[i]
                    return_lines.append((return_id, first_line + i, units))
                    event(
                        f"return:{return_id}:line:{first_line + i}", customer, CanonicalEvent.RETURNED_PRODUCT,
                        ret.at, {"order_id": order_id, "sku": sold.sku, "title": sold.title or "", "quantity": units,
                                 "reason": ReturnReason.OTHER},
                    )  # fmt: skip
                return_id += 1
            for refund, converted in refund_rows:
                ret = None if refund.return_index is None else ret_ids[refund.return_index]
                refunds.append(
                    (
                        refund_id, order_id, customer, ret, str(refund.amount), order.currency,
                        None if converted is None else str(converted), ReturnReason.OTHER, refund.note,
                        refund.external_id, self.when(refund.at), actor_id,
                    )
                )  # fmt: skip
                event(
                    f"refund:{refund_id}", customer, CanonicalEvent.REFUNDED_ORDER, refund.at,
                    {"order_id": order_id, "number": number, "value": str(refund.amount), "reason": ReturnReason.OTHER},
                )  # fmt: skip
                refund_id += 1
            order_id += 1
        insert = bulk.insert_rows
        # A shop's first history import into empty order and event tables builds their indexes (and checks their
        # foreign keys) once after the rows are in, rather than row by row (bulk.indexes_built_after).
        with bulk.indexes_built_after(BULK_TABLES, rows=len(lines) + len(events)) as rebuilt:
            with self.timed("order_rows_seconds"):
                insert(Order._meta.db_table, ORDER_COLUMNS, orders)
                insert(OrderLine._meta.db_table, LINE_COLUMNS, lines)
                insert(OrderStatusChange._meta.db_table, STATUS_COLUMNS, changes)
                insert(Shipment._meta.db_table, SHIPMENT_COLUMNS, shipments)
                insert(Return._meta.db_table, RETURN_COLUMNS, returns)
                insert(ReturnLine._meta.db_table, RETURN_LINE_COLUMNS, return_lines)
                insert(Refund._meta.db_table, REFUND_COLUMNS, refunds)
                insert(Payment._meta.db_table, PAYMENT_COLUMNS, payments)
            with self.timed("events_seconds"):
                insert(Event._meta.db_table, EVENT_COLUMNS, events)
            written = time.perf_counter()
        if rebuilt:
            self.importer.timings["indexes_seconds"] = round(time.perf_counter() - written, 3)
        if returns:  # returns refunded in the same file stop waiting for their money
            with_returns = sorted({row[1] for row in returns})
            for start in range(0, len(with_returns), 5000):
                returns_settle(with_returns[start : start + 5000])

    def _earlier_orders(self) -> None:
        """Documents that take goods back from orders imported before: through the order actions, one by one."""
        from kervan.orders.actions import refund_create, return_create

        plan = self.plan
        for order_id, back, at, draft in plan.later:
            order = Order.objects.get(pk=order_id)
            self.later_customers.append(order.customer_id)
            lines = list(order.lines.order_by("id"))
            taken, amount = [], Decimal(0)
            for line in back:
                need = -line.quantity
                for stored in lines:
                    left = stored.quantity - stored.returned_quantity
                    same = stored.sku == line.sku if (stored.sku or line.sku) else stored.title == line.title
                    if need and left and same:
                        units = min(need, left)
                        stored.returned_quantity += units
                        taken.append({"order_line_id": stored.pk, "quantity": units})
                        amount += units * line.unit_price
                        need -= units
            if taken:
                ret, created = return_create(
                    actor=self.actor, order=order, lines=taken, reason=ReturnReason.OTHER, occurred_at=at,
                    external_id=draft.number, restock=False,
                )  # fmt: skip
                if created:
                    plan.counts["returns"] += 1
                order.refresh_from_db()
                amount = min(amount, order.total - order.refunded_total)
                if amount > 0:
                    refund_create(
                        actor=self.actor, order=order, amount=amount, occurred_at=at, external_id=draft.number,
                        return_request=ret,
                    )  # fmt: skip
                    plan.counts["refunds"] += 1
