"""CSV export of customers, streamed so a million rows never sit in memory."""

import csv
import io

from django.http import StreamingHttpResponse

from kervan.core.audit import audit
from kervan.customers import selectors

EXPORT_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "gender",
    "city",
    "country",
    "language",
    "consent_email",
    "consent_sms",
    "total_spent",
    "currency",
    "order_count",
    "average_order_value",
    "first_order_at",
    "last_order_at",
    "returns_count",
    "created_at",
)


def export_rows(qs):
    yield EXPORT_COLUMNS
    for c in qs.iterator(chunk_size=2000):
        s = getattr(c, "stats", None)
        yield (
            c.pk,
            c.first_name,
            c.last_name,
            c.email,
            c.phone,
            c.birth_date or "",
            c.gender,
            c.city,
            c.country,
            c.language,
            c.consent_email,
            c.consent_sms,
            s.total_spent if s else "",
            s.currency if s else "",
            s.order_count if s else "",
            s.average_order_value if s else "",
            s.first_order_at.isoformat() if s and s.first_order_at else "",
            s.last_order_at.isoformat() if s and s.last_order_at else "",
            s.returns_count if s else "",
            c.created_at.isoformat(),
        )


def export_stream(rows):
    """Yield CSV text in chunks; a BOM first so Excel opens Turkish letters correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff"
    for i, row in enumerate(rows):
        writer.writerow(_safe(row))
        if i % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _safe(row):
    return [_safe_cell(v) for v in row]


def _safe_cell(value):
    """Cells starting with = + - @ are formulas to a spreadsheet: prefix them so an export can't run code.
    Phone numbers (+905…) and negative amounts are plain numbers and are left alone."""
    if not isinstance(value, str) or value[:1] not in ("=", "+", "-", "@"):
        return value
    if value[:1] in ("+", "-") and value[1:].replace(".", "", 1).isdigit():
        return value
    return "'" + value


def customers_export_response(*, actor, filters: selectors.CustomerFilters) -> StreamingHttpResponse:
    """The filtered customer list as a streamed CSV download, audited — for the list page and the API alike."""
    actor.require("customers", "read")
    actor.require("exports", "read")
    qs, order = selectors.customer_list(actor=actor, filters=filters)
    audit(
        actor=actor,
        action="export",
        object_type="customers.customer",
        changes={"filters": {k: v for k, v in vars(filters).items() if v not in ("", None, {})}},
    )
    response = StreamingHttpResponse(export_stream(export_rows(qs.order_by(order))), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="kervan-customers.csv"'
    return response
