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
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from kervan.catalog.models import Variant
from kervan.core.emails import email_match_key
from kervan.core.errors import KervanError
from kervan.core.models import Source
from kervan.core.phones import normalize_phone
from kervan.customers.models import Customer, Identity
from kervan.imports import bulk
from kervan.imports.file_settings import SKIP
from kervan.imports.orders import Draft, Line, parse_refund_items
from kervan.imports.orders_amounts import OrderAmounts, PlannedOrder, as_datetime, undoes_its_original
from kervan.imports.sources import IMPORT_SOURCE_KEY
from kervan.imports.values import amount_parser, datetime_parser
from kervan.orders.models import Order, OrderLine, OrderStatus, Refund, Return

GUEST_TAG = "guest"


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


class Plan(OrderAmounts):
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
                or undoes_its_original(draft, status)
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
            if stored is not None and as_datetime(stored[0]) != draft.values["placed_at"]:
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
