"""The files of a scheduled export: the fields a user may choose per kind, the rows of a period, and the writers.

CSV goes through the customers' export writer (kervan.customers.export.export_stream: a BOM for Excel,
spreadsheet-formula-safe cells), streamed as it is read; XLSX through openpyxl's write-only workbook, which writes
each row to a temporary file as it comes. Rows are read with .iterator() in chunks either way, so 100k+ rows never
sit in memory. Amounts stay Decimal (a number cell in XLSX, its digits in CSV) beside a currency column; times are
shown in the schedule's zone.
"""

import datetime as dt
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from kervan.customers.export import export_stream
from kervan.customers.models import Customer
from kervan.orders.models import Order
from kervan.outbound.models import ExportSchedule
from kervan.outbound.timing import zone_of

CHUNK = 2000
AMOUNT_FORMAT = "#,##0.00"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"


@dataclass(frozen=True)
class Field:
    key: str
    label: Any  # lazy translation: the default column title
    get: Callable[[Any], Any]
    kind: str = "text"  # text | amount | datetime | date | number


def _stats(name: str) -> Callable[[Customer], Any]:
    def get(c: Customer) -> Any:
        stats = getattr(c, "stats", None)
        return getattr(stats, name) if stats is not None else None

    return get


ORDER_FIELDS = [
    Field("id", _("Kervan id"), lambda o: o.pk, "number"),
    Field("number", _("Order number"), lambda o: o.number),
    Field("external_id", _("Store's order id"), lambda o: o.external_id),
    Field("source", _("Source"), lambda o: o.source.name),
    Field("placed_at", _("Placed at"), lambda o: o.placed_at, "datetime"),
    Field("placed_date", _("Order date"), lambda o: o.placed_at, "date"),
    Field("status", _("Status"), lambda o: o.status),
    Field("customer_id", _("Customer id"), lambda o: o.customer_id, "number"),
    Field("customer_name", _("Customer name"), lambda o: f"{o.customer.first_name} {o.customer.last_name}".strip()),
    Field("customer_email", _("Customer email"), lambda o: o.customer.email),
    Field("customer_phone", _("Customer phone"), lambda o: o.customer.phone),
    Field("currency", _("Currency"), lambda o: o.currency),
    Field("subtotal", _("Subtotal"), lambda o: o.subtotal, "amount"),
    Field("discount_total", _("Discount"), lambda o: o.discount_total, "amount"),
    Field("tax_total", _("Tax"), lambda o: o.tax_total, "amount"),
    Field("shipping_total", _("Shipping"), lambda o: o.shipping_total, "amount"),
    Field("total", _("Total"), lambda o: o.total, "amount"),
    Field("refunded_total", _("Refunded"), lambda o: o.refunded_total, "amount"),
    Field("line_count", _("Lines"), lambda o: o.line_count, "number"),
    Field("sales_channel", _("Sales channel"), lambda o: o.sales_channel),
    Field("marketplace", _("Marketplace"), lambda o: o.marketplace),
    Field("discount_codes", _("Discount codes"), lambda o: " ".join(o.discount_codes or [])),
    Field("utm_source", _("UTM source"), lambda o: o.utm_source),
    Field("utm_medium", _("UTM medium"), lambda o: o.utm_medium),
    Field("utm_campaign", _("UTM campaign"), lambda o: o.utm_campaign),
    Field("shipping_country", _("Shipping country"), lambda o: o.shipping_country),
    Field("shipping_city", _("Shipping city"), lambda o: o.shipping_city),
]

CUSTOMER_FIELDS = [
    Field("id", _("Kervan id"), lambda c: c.pk, "number"),
    Field("first_name", _("First name"), lambda c: c.first_name),
    Field("last_name", _("Last name"), lambda c: c.last_name),
    Field("email", _("Email"), lambda c: c.email),
    Field("phone", _("Phone"), lambda c: c.phone),
    Field("city", _("City"), lambda c: c.city),
    Field("country", _("Country"), lambda c: c.country),
    Field("birth_date", _("Birth date"), lambda c: c.birth_date, "date"),
    Field("gender", _("Gender"), lambda c: c.gender),
    Field("language", _("Language"), lambda c: c.language),
    Field("consent_email", _("Email consent"), lambda c: c.consent_email),
    Field("consent_sms", _("SMS consent"), lambda c: c.consent_sms),
    Field("total_spent", _("Total spent"), _stats("total_spent"), "amount"),
    Field("currency", _("Currency"), _stats("currency")),
    Field("order_count", _("Orders"), _stats("order_count"), "number"),
    Field("average_order_value", _("Average order value"), _stats("average_order_value"), "amount"),
    Field("first_order_at", _("First order"), _stats("first_order_at"), "datetime"),
    Field("last_order_at", _("Last order"), _stats("last_order_at"), "datetime"),
    Field("created_at", _("Created at"), lambda c: c.created_at, "datetime"),
    Field("updated_at", _("Changed at"), lambda c: c.updated_at, "datetime"),
]

FIELDS: dict[str, dict[str, Field]] = {
    ExportSchedule.Kind.ORDERS: {f.key: f for f in ORDER_FIELDS},
    ExportSchedule.Kind.CUSTOMERS: {f.key: f for f in CUSTOMER_FIELDS},
}
DEFAULT_COLUMNS = {
    ExportSchedule.Kind.ORDERS: ["number", "placed_at", "status", "customer_name", "customer_email", "currency",
                                 "subtotal", "discount_total", "tax_total", "shipping_total", "total"],
    ExportSchedule.Kind.CUSTOMERS: ["id", "first_name", "last_name", "email", "phone", "city", "total_spent",
                                    "currency", "order_count", "created_at"],
}  # fmt: skip


def export_queryset(schedule: ExportSchedule, start: dt.datetime | None, end: dt.datetime) -> QuerySet:
    """The rows of [start, end): orders by when they were placed, customers by when they were created or changed."""
    keys = {c["field"] for c in schedule.columns}
    if schedule.kind == ExportSchedule.Kind.ORDERS:
        qs = Order.objects.select_related("customer", "source").filter(placed_at__lt=end)
        if start is not None:
            qs = qs.filter(placed_at__gte=start)
        if "line_count" in keys:
            qs = qs.annotate(line_count=Count("lines"))
        return qs.order_by("placed_at", "pk")
    qs = Customer.objects.active().select_related("stats").filter(updated_at__lt=end)
    if start is not None:
        qs = qs.filter(updated_at__gte=start)
    return qs.order_by("updated_at", "pk")


@dataclass(frozen=True)
class Column:
    field: Field
    title: str


def columns_of(schedule: ExportSchedule) -> list[Column]:
    fields = FIELDS[schedule.kind]
    return [Column(fields[c["field"]], c["title"]) for c in schedule.columns if c["field"] in fields]


def typed_rows(schedule: ExportSchedule, start: dt.datetime | None, end: dt.datetime) -> Iterator[list[Any]]:
    """Each row's values in column order: Decimal amounts, naive local datetimes and dates, numbers, text."""
    zone = zone_of(schedule.time_zone)
    columns = columns_of(schedule)
    for obj in export_queryset(schedule, start, end).iterator(chunk_size=CHUNK):
        yield [_typed(column.field, column.field.get(obj), zone) for column in columns]


def _typed(field: Field, value: Any, zone: dt.tzinfo) -> Any:
    if value is None:
        return None
    if field.kind == "datetime":
        return value.astimezone(zone).replace(tzinfo=None, microsecond=0)
    if field.kind == "date":
        return value.astimezone(zone).date() if isinstance(value, dt.datetime) else value
    if field.kind == "amount":
        return Decimal(value)
    return value


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def csv_chunks(
    schedule: ExportSchedule, start: dt.datetime | None, end: dt.datetime, counted: list[int] | None = None
) -> Iterator[str]:
    """The CSV as text chunks; `counted` (a one-item list) is incremented per data row."""
    header = [column.title for column in columns_of(schedule)]
    return export_stream(_chain(header, typed_rows(schedule, start, end), counted))


def _chain(header: list[str], rows: Iterator[list[Any]], counted: list[int] | None) -> Iterator[list[Any]]:
    yield header
    for row in rows:
        if counted is not None:
            counted[0] += 1
        yield [_csv_value(v) for v in row]


def write_file(schedule: ExportSchedule, start: dt.datetime | None, end: dt.datetime) -> tuple[str, int]:
    """The export written to a temporary file (the caller deletes it); returns (path, rows)."""
    handle, path = tempfile.mkstemp(prefix="kervan-export-", suffix=f".{schedule.format}")
    os.close(handle)
    try:
        if schedule.format == ExportSchedule.Format.XLSX:
            rows = _write_xlsx(schedule, start, end, path)
        else:
            rows = _write_csv(schedule, start, end, path)
    except BaseException:
        os.unlink(path)
        raise
    return path, rows


def _write_csv(schedule: ExportSchedule, start: dt.datetime | None, end: dt.datetime, path: str) -> int:
    counted = [0]
    with open(path, "w", encoding="utf-8", newline="") as out:
        for chunk in csv_chunks(schedule, start, end, counted):
            out.write(chunk)
    return counted[0]


def _write_xlsx(schedule: ExportSchedule, start: dt.datetime | None, end: dt.datetime, path: str) -> int:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=schedule.get_kind_display()[:31])
    columns = columns_of(schedule)
    sheet.append([column.title for column in columns])
    rows = 0
    for row in typed_rows(schedule, start, end):
        sheet.append([_xlsx_cell(sheet, column.field, value) for column, value in zip(columns, row, strict=True)])
        rows += 1
    book.save(path)
    return rows


def _xlsx_cell(sheet: Any, field: Field, value: Any) -> Any:
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # "=…" stays text, never a formula
    elif field.kind == "amount" and value is not None:
        cell.number_format = AMOUNT_FORMAT
    elif isinstance(value, dt.datetime):
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, dt.date):
        cell.number_format = DATE_FORMAT
    return cell


def file_name(schedule: ExportSchedule, end: dt.datetime) -> str:
    day = end.astimezone(zone_of(schedule.time_zone)).date().isoformat()
    return f"kervan-{schedule.kind}-{day}.{schedule.format}"


CONTENT_TYPES = {
    ExportSchedule.Format.CSV: "text/csv; charset=utf-8",
    ExportSchedule.Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
