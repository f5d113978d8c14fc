"""Running a related-files import (kervan.imports.related): the customers, orders and items files joined into one
order-line table and checked and written by the order import; payments and reviews read, attached and written in the
same transaction."""

import copy
import datetime as dt
from decimal import Decimal

from django.utils.translation import gettext as _

from kervan.core import clock
from kervan.core.errors import KervanError
from kervan.imports import bulk
from kervan.imports.base import Progress, Report, memoized, text
from kervan.imports.models import ImportJob, ImportKind
from kervan.imports.related import (
    ORDER_ROLES,
    Files,
    files_by_role,
    parse_installments,
    parse_rating,
    payment_method,
    payment_status,
)
from kervan.imports.values import amount_parser, datetime_parser


class _JoinedTable:
    """The customers, orders and items files as one order-line table (what OrderImport reads)."""

    def __init__(self, columns: list[str], rows) -> None:
        self.columns = columns
        self._rows = rows

    def rows(self):
        return self._rows()


class RelatedImport:
    """Checks every file, then writes orders (through the order import's plan and writer), payments and reviews in
    the caller's one transaction."""

    def __init__(self, *, job: ImportJob, table, actor, progress: Progress, report: Report) -> None:
        del table  # the job's file is a zip: its files are read here
        self.job = job
        self.actor = actor
        self.progress = progress
        self.report = report
        self.rows_seen = 0
        self.timings: dict[str, float] = {}
        self.summary: dict = {}
        self.orders = None  # the inner OrderImport
        self.config = job.options.get("related") or {}
        self.by_role = files_by_role(job)
        self.payments: dict[str, list[tuple]] = {}  # order key → [(row, values)]
        self.reviews: list[tuple] = []  # (row, order key, values)
        self.orphans: dict[str, int] = {}
        self.counts = {"payments": 0, "payments_unchanged": 0, "reviews": 0, "reviews_unchanged": 0}

    def timed(self, step: str):
        from kervan.imports.base import Importer

        return Importer.timed(self, step)  # type: ignore[arg-type]

    # -- checking ----------------------------------------------------------------------------------------------------

    def check(self) -> None:
        from kervan.imports.orders import OrderImport

        with Files(self.job.file.path) as files:
            self.files = files
            with self.timed("join_seconds"):
                table = self._joined(files)
            inner_job = copy.copy(self.job)
            inner_job.kind = ImportKind.ORDERS
            inner_job.mapping = {c: f for c, f in self.job.mapping.items() if c in self._order_columns}
            inner_job.options = {k: v for k, v in self.job.options.items() if k != "related"}
            self.orders = OrderImport(
                job=inner_job, table=table, actor=self.actor, progress=self.progress, report=self.report
            )
            self.orders.check()
            self.rows_seen += self.orders.rows_seen - self._order_rows_again  # each file's row counted once
            self.settings = self.orders.settings
            when = datetime_parser(self.settings.date_order, self.orders._zone())
            self.amount = amount_parser(self.settings.decimal)
            self.when = memoized(when)
            with self.timed("payments_reviews_seconds"):
                if "payments" in self.by_role:
                    self._read_payments(files)
                if "reviews" in self.by_role:
                    self._read_reviews(files)
                self._attach()
        self.timings.update(self.orders.timings)

    def _cells(self, files: Files, role: str):
        info = self.by_role[role]
        table = files.table(info["name"])
        if table.columns != info["columns"]:
            raise KervanError(
                _("%(file)s has changed since it was uploaded.") % {"file": info["name"]}, "unreadable_file"
            )
        return info, table

    def _joined(self, files: Files) -> _JoinedTable:
        joins = self.config.get("joins", {})
        present = [r for r in ORDER_ROLES if r in self.by_role]
        columns = [f"{self.by_role[r]['stem']}.{c}" for r in present for c in self.by_role[r]["columns"]]
        self._order_columns = set(columns)
        widths = {r: len(self.by_role[r]["columns"]) for r in present}
        empty = {r: [""] * widths[r] for r in present}
        customers: dict[str, list[str]] = {}
        if "customers" in present and "orders" in joins:
            info, table = self._cells(files, "customers")
            key = info["columns"].index(joins["orders"][1])
            for _n, cells in table.rows():
                self.rows_seen += 1
                customers.setdefault(cells[key].strip(), cells)
        info, table = self._cells(files, "orders")
        orders: dict[str, tuple[int, list[str]]] = {}
        customer_of = info["columns"].index(joins["orders"][0]) if customers or "orders" in joins else None
        item_key = None
        if "items" in present:
            item_key = info["columns"].index(joins["items"][1])
        number_column = next(
            (c for c, f in self.job.mapping.items() if f == "order_number" and c.startswith(info["stem"] + ".")), None
        )
        number_index = info["columns"].index(number_column[len(info["stem"]) + 1 :]) if number_column else None
        self.order_number_of: dict[str, str] = {}  # a child's join value → the order number
        keys_of = {}
        for role in ("payments", "reviews"):
            if role in joins:
                keys_of[role] = info["columns"].index(joins[role][1])
        customer_orphans = 0
        order_rows = []
        for number, cells in table.rows():
            self.rows_seen += 1
            order_number = cells[number_index].strip() if number_index is not None else ""
            for index in {*keys_of.values(), *([item_key] if item_key is not None else [])}:
                self.order_number_of.setdefault(cells[index].strip(), order_number)
            part = {"orders": cells}
            if "customers" in present:
                found = customers.get(cells[customer_of].strip()) if customer_of is not None else None
                if found is None:
                    customer_orphans += 1
                part["customers"] = found or empty["customers"]
            order_rows.append((number, part))
            if item_key is not None:
                orders.setdefault(cells[item_key].strip(), (number, part))
        if "customers" in present:
            self.orphans["orders"] = customer_orphans
        self._orders_by_key = orders
        self._order_rows_again = 0  # joined rows that are an orders file's row without items (counted already)
        item_info = self.by_role.get("items")

        def rows():
            if item_info is None:
                self._order_rows_again = len(order_rows)
                for number, part in order_rows:
                    yield number, [cell for r in present for cell in part[r]]
                return
            _info, items = self._cells(files, "items")
            key = item_info["columns"].index(joins["items"][0])
            seen: set[int] = set()
            orphans = 0
            for number, cells in items.rows():
                found = orders.get(cells[key].strip())
                if found is None:
                    orphans += 1
                    self.report.error(
                        number,
                        f"{item_info['stem']}.{joins['items'][0]}",
                        cells[key],
                        _("%(file)s, row %(row)s: its order is not in %(parent)s.")
                        % {"file": item_info["name"], "row": number, "parent": self.by_role["orders"]["name"]},
                        "orphan_row",
                    )
                    self.report.skipped += 1
                    continue
                seen.add(id(found[1]))
                part = found[1]
                yield number, [cell for r in present for cell in (cells if r == "items" else part[r])]
            self.orphans["items"] = orphans
            for number, part in order_rows:  # orders without items: one row without line cells
                if id(part) not in seen:
                    self._order_rows_again += 1
                    yield number, [cell for r in present for cell in (empty[r] if r == "items" else part[r])]

        return _JoinedTable(columns, rows)

    def _mapped(self, role: str) -> list[tuple[str, int, str]]:
        """(field, index in the file, column as the report names it) of a file's mapped columns."""
        info = self.by_role[role]
        prefix = info["stem"] + "."
        found = []
        for column, field in self.job.mapping.items():
            if column.startswith(prefix) and column[len(prefix) :] in info["columns"]:
                found.append((field, info["columns"].index(column[len(prefix) :]), column))
        return found

    def _read(self, files: Files, role: str, parsers: dict):
        info, table = self._cells(files, role)
        join_column = self.config["joins"][role][0]
        key_index = info["columns"].index(join_column)
        plan = [(f, i, c, parsers[f]) for f, i, c in self._mapped(role)]
        orphans = 0
        for number, cells in table.rows():
            self.rows_seen += 1
            key = cells[key_index].strip()
            if key not in self.order_number_of:
                orphans += 1
                self.report.error(
                    number,
                    f"{info['stem']}.{join_column}",
                    key,
                    _("%(file)s, row %(row)s: its order is not in %(parent)s.")
                    % {"file": info["name"], "row": number, "parent": self.by_role["orders"]["name"]},
                    "orphan_row",
                )
                self.report.skipped += 1
                continue
            values = {}
            bad = False
            for field, i, column, parse in plan:
                raw = cells[i].strip()
                if not raw:
                    continue
                try:
                    values[field] = parse(raw)
                except KervanError as exc:
                    self.report.error(number, column, raw, exc.detail, exc.code)
                    bad = True
            if bad:
                self.report.skipped += 1
                continue
            yield number, self.order_number_of[key], values
        self.orphans[role] = orphans

    def _read_payments(self, files: Files) -> None:
        parsers = {
            "payment_amount": self.amount,
            "payment_method": memoized(payment_method),
            "payment_installments": memoized(parse_installments),
            "payment_date": self.when,
            "payment_sequence": text(40),
            "payment_provider": memoized(text(40)),
            "payment_reference": text(100),
            "payment_status": memoized(payment_status),
        }
        info = self.by_role["payments"]
        amount_column = next(c for f, _i, c in self._mapped("payments") if f == "payment_amount")
        for number, order_number, values in self._read(files, "payments", parsers):
            if "payment_amount" not in values:
                self.report.error(number, amount_column, "", _("A payment needs its amount."), "missing_amount")
                self.report.skipped += 1
                continue
            if values["payment_amount"] < 0:
                self.report.error(
                    number, amount_column, str(values["payment_amount"]), _("A payment cannot be negative."),
                    "invalid_amount",
                )  # fmt: skip
                self.report.skipped += 1
                continue
            self.payments.setdefault(order_number, []).append((number, values))
        del info

    def _read_reviews(self, files: Files) -> None:
        parsers = {
            "review_id": text(100),
            "review_rating": memoized(parse_rating),
            "review_title": text(255),
            "review_text": str.strip,
            "review_date": self.when,
            "review_sku": memoized(text(64)),
        }
        info = self.by_role["reviews"]
        rating_column = next(c for f, _i, c in self._mapped("reviews") if f == "review_rating")
        id_column = next((c for f, _i, c in self._mapped("reviews") if f == "review_id"), "")
        seen: set[str] = set()
        per_order: dict[str, int] = {}
        for number, order_number, values in self._read(files, "reviews", parsers):
            if "review_rating" not in values:
                self.report.error(number, rating_column, "", _("A review needs its rating."), "missing_rating")
                self.report.skipped += 1
                continue
            external = values.get("review_id")
            if not external:
                per_order[order_number] = per_order.get(order_number, 0) + 1
                external = f"{order_number}/{per_order[order_number]}"
            if external in seen:
                self.report.error(
                    number, id_column, external, _("The review %(id)s is in the file twice; the first is kept.")
                    % {"id": external}, "duplicate_review",
                )  # fmt: skip
                self.report.skipped += 1
                continue
            seen.add(external)
            self.reviews.append((number, order_number, external, values))
        del info

    def _attach(self) -> None:
        """Payments onto the planned orders; those and the reviews of orders imported before are found in the
        database; reviews imported before are left as they are."""
        from kervan.catalog.models import Variant
        from kervan.feedback.models import Review
        from kervan.imports.orders_amounts import PaymentPlan
        from kervan.orders.models import Order

        plan = self.orders.planned
        self.planned_index = {o.number: i for i, o in enumerate(plan.orders) if not o.document}
        numbers = sorted(({n for n in self.payments} | {r[1] for r in self.reviews}) - set(self.planned_index))
        self.existing: dict[str, tuple[int, int, dt.datetime]] = {}
        if numbers and plan.source_id is not None:
            from kervan.imports.orders_amounts import as_datetime

            sql = f"SELECT external_id, id, customer_id, placed_at FROM {Order._meta.db_table} WHERE source_id = %s"
            for number, pk, customer, placed in bulk.select_where_in(sql, "external_id", numbers, (plan.source_id,)):
                self.existing[number] = (pk, customer, as_datetime(placed))
        self.later_payments: list[tuple] = []
        skipped_rows = 0
        for number, rows in self.payments.items():
            index = self.planned_index.get(number)
            for _row, values in rows:
                if index is not None:
                    order = plan.orders[index]
                    order.payments.append(self._payment(PaymentPlan, values, order.placed_at, number))
                    self.counts["payments"] += 1
                elif number in self.existing:
                    pk, _customer, placed = self.existing[number]
                    self.later_payments.append((pk, self._payment(PaymentPlan, values, placed, number)))
                else:
                    skipped_rows += 1  # its order was not imported: that order's error is reported
        self.report.imported += self.counts["payments"]
        # Reviews: those stored before for this source are unchanged.
        externals = sorted({r[2] for r in self.reviews})
        stored: set[str] = set()
        if externals:
            sql = f"SELECT external_id FROM {Review._meta.db_table} WHERE source_id = %s"
            stored = {row[0] for row in bulk.select_where_in(sql, "external_id", externals, (plan.source_id,))}
        skus = sorted({r[3]["review_sku"] for r in self.reviews if r[3].get("review_sku")})
        self.products: dict[str, int] = {}
        for start in range(0, len(skus), 900):
            for sku, product in Variant.objects.filter(sku__in=skus[start : start + 900]).values_list(
                "sku", "product_id"
            ):
                self.products[sku] = product
        kept = []
        for row, number, external, values in self.reviews:
            if external in stored:
                self.counts["reviews_unchanged"] += 1
                self.report.unchanged += 1
            elif number in self.planned_index or number in self.existing:
                kept.append((row, number, external, values))
            else:
                skipped_rows += 1
        self.reviews = kept
        self.counts["reviews"] = len(kept)
        self.report.imported += len(kept)
        self.report.skipped += skipped_rows
        self.counts["payments_skipped_with_their_order"] = skipped_rows

    def _payment(self, plan_class, values: dict, placed_at: dt.datetime, number: str):
        sequence = values.get("payment_sequence", "")
        return plan_class(
            amount=values["payment_amount"],
            at=values.get("payment_date") or placed_at,
            method=values.get("payment_method", "card"),
            installments=values.get("payment_installments", 1),
            provider=values.get("payment_provider", ""),
            reference=values.get("payment_reference") or (f"{number}/{sequence}"[:100] if sequence else ""),
        )

    # -- writing -----------------------------------------------------------------------------------------------------

    def reserve(self) -> dict[str, int]:
        return self.orders.reserve()

    def write(self, first_ids: dict[str, int]) -> None:
        from kervan.customers.models import Customer
        from kervan.orders.models import Order

        self.orders.write(first_ids)
        first_order = first_ids.get(Order._meta.db_table, 0)
        first_customer = first_ids.get(Customer._meta.db_table, 0)
        plan = self.orders.planned
        with self.timed("payments_reviews_write_seconds"):
            self._later_payments()
            self._write_reviews(plan, first_order, first_customer)
        self.timings.update(self.orders.timings)
        joins = (self.job.facts or {}).get("joins", {})
        self.summary = {
            **self.orders.summary,
            **self.counts,
            "orphans": {role: self.orphans.get(role, 0) for role in joins},
        }

    def _later_payments(self) -> None:
        """Payments of orders imported before: added unless the order has one with the same reference and amount."""
        from kervan.imports.orders_write import PAYMENT_COLUMNS
        from kervan.orders.models import Order, Payment

        if not self.later_payments:
            return
        ids = sorted({pk for pk, _p in self.later_payments})
        sql = f"SELECT order_id, reference, amount FROM {Payment._meta.db_table} WHERE 1 = 1"
        have = {(o, r, Decimal(str(a))) for o, r, a in bulk.select_where_in(sql, "order_id", ids)}
        currency = dict(bulk.select_where_in(f"SELECT id, currency FROM {Order._meta.db_table} WHERE 1 = 1", "id", ids))
        rows = []
        for pk, payment in self.later_payments:
            key = (pk, payment.reference, payment.amount)
            if key in have:
                self.counts["payments_unchanged"] += 1
                self.report.unchanged += 1
                continue
            have.add(key)
            rows.append(
                (pk, str(payment.amount), currency[pk], payment.method, payment.provider, payment.reference,
                 payment.installments, Payment.Status.CAPTURED, bulk.db_datetime(payment.at))
            )  # fmt: skip
        bulk.insert_rows(Payment._meta.db_table, PAYMENT_COLUMNS, rows)
        self.counts["payments"] += len(rows)
        self.report.imported += len(rows)

    def _write_reviews(self, plan, first_order: int, first_customer: int) -> None:
        from kervan.feedback.models import Review

        if not self.reviews:
            return
        now = bulk.db_datetime(clock.now())
        source_id = plan.source_id
        rows = []
        times: dict[dt.datetime, str] = {}

        def when(value: dt.datetime) -> str:  # converted once per distinct time (reviews are dated by the day)
            text = times.get(value)
            if text is None:
                text = times[value] = bulk.db_datetime(value)
            return text

        for _row, number, external, values in self.reviews:
            index = self.planned_index.get(number)
            if index is not None:
                order = plan.orders[index]
                order_id = first_order + index
                owner = order.owner
                customer_id = owner if owner >= 0 else first_customer - 1 - owner
                placed = order.placed_at
            else:
                order_id, customer_id, placed = self.existing[number]
            rows.append(
                (customer_id, order_id, self.products.get(values.get("review_sku", "")), values["review_rating"],
                 values.get("review_title", ""), values.get("review_text", ""),
                 when(values.get("review_date") or placed), source_id, external[:100], now)
            )  # fmt: skip
        bulk.insert_rows(
            Review._meta.db_table,
            ("customer_id", "order_id", "product_id", "rating", "title", "text", "submitted_at", "source_id",
             "external_id", "created_at"),
            rows,
        )  # fmt: skip
