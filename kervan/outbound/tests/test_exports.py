"""Scheduled exports: the files field by field (CSV and XLSX), the next run and the period on Istanbul's clock,
the scheduled email with its attachment on a real SMTP server, the download pages."""

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest

from kervan.accounts.actors import Actor
from kervan.core import clock as core_clock
from kervan.core.errors import KervanError
from kervan.core.testing import SHARED_DATA
from kervan.customers.tests.factories import make_customer, make_order
from kervan.outbound import schedules
from kervan.outbound.models import ExportSchedule
from kervan.outbound.timing import next_run, period_bounds

pytestmark = pytest.mark.django_db
IST = dt.timezone(dt.timedelta(hours=3))
NOW = dt.datetime(2026, 3, 2, 4, 0, tzinfo=dt.UTC)  # Monday 2 March, 07:00 in Istanbul
SHOPIFY_HEADER = SHARED_DATA / "exports" / "shopify" / "orders_export_header.csv"

ORDER_COLUMNS = [
    {"field": "number", "title": "Sipariş No"},
    {"field": "placed_at", "title": "Sipariş Tarihi"},
    {"field": "placed_date", "title": "Gün"},
    {"field": "customer_name", "title": "Müşteri"},
    {"field": "customer_email", "title": "E-posta"},
    {"field": "subtotal", "title": "Ara Toplam"},
    {"field": "shipping_total", "title": "Kargo"},
    {"field": "total", "title": "Genel Toplam"},
    {"field": "currency", "title": "Para Birimi"},
    {"field": "line_count", "title": "Kalem"},
]


def schedule(**values):
    base = {"name": "Muhasebe", "kind": "orders", "format": "csv", "period": "last_day", "frequency": "daily",
            "at_time": "06:00", "columns": ORDER_COLUMNS, "recipients": []}  # fmt: skip
    return schedules.schedule_create(actor=Actor.system(), **{**base, **values})


@pytest.fixture
def orders():
    """Two orders on Sunday 1 March (Istanbul), one on Saturday and one on Monday: the previous day has two."""
    ayse = make_customer(first_name="Ayşe", last_name="Yılmaz", email="ayse@example.com")
    can = make_customer(first_name="Can", last_name="Öztürk", email="can@example.com")
    sunday_early = make_order(ayse, total_lines=((2, "100.00"), (1, "49.90")), shipping="29.90",
                              placed_at=dt.datetime(2026, 3, 1, 0, 5, tzinfo=IST))  # fmt: skip
    sunday_late = make_order(can, total_lines=((1, "1234.56"),), placed_at=dt.datetime(2026, 3, 1, 23, 59, tzinfo=IST))
    make_order(can, placed_at=dt.datetime(2026, 2, 28, 23, 59, tzinfo=IST))
    make_order(can, placed_at=dt.datetime(2026, 3, 2, 0, 0, tzinfo=IST))
    return sunday_early, sunday_late


def read_csv(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads the Turkish letters
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_of_the_previous_day_field_by_field(admin_client, orders):
    early, late = orders
    with core_clock.frozen(NOW):
        export = schedule()
        response = admin_client.get(f"/settings/outbound/exports/{export.pk}/download/")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="kervan-orders-2026-03-02.csv"'
    rows = read_csv(b"".join(response.streaming_content))
    assert rows == [
        ["Sipariş No", "Sipariş Tarihi", "Gün", "Müşteri", "E-posta", "Ara Toplam", "Kargo", "Genel Toplam",
         "Para Birimi", "Kalem"],
        [early.number, "2026-03-01 00:05:00", "2026-03-01", "Ayşe Yılmaz", "ayse@example.com", "249.90", "29.90",
         "279.80", "TRY", "2"],
        [late.number, "2026-03-01 23:59:00", "2026-03-01", "Can Öztürk", "can@example.com", "1234.56", "0.00",
         "1234.56", "TRY", "1"],
    ]  # fmt: skip


def test_xlsx_has_numbers_dates_and_the_chosen_titles(admin_client, orders):
    early, late = orders
    with core_clock.frozen(NOW):
        export = schedule(format="xlsx")
        response = admin_client.get(f"/settings/outbound/exports/{export.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == [c["title"] for c in ORDER_COLUMNS]
    assert rows[1] == [early.number, dt.datetime(2026, 3, 1, 0, 5), dt.datetime(2026, 3, 1), "Ayşe Yılmaz",
                       "ayse@example.com", 249.9, 29.9, 279.8, "TRY", 2]  # fmt: skip
    assert rows[2][0] == late.number and rows[2][7] == 1234.56 and len(rows) == 3
    assert Decimal(str(rows[2][7])) == late.total
    total_cell = sheet.cell(row=2, column=8)
    assert total_cell.number_format == "#,##0.00" and total_cell.data_type == "n"
    assert sheet.cell(row=2, column=2).number_format == "yyyy-mm-dd hh:mm:ss"
    assert sheet.cell(row=2, column=3).is_date


def test_a_text_that_looks_like_a_formula_stays_text(admin_client):
    make_customer(first_name='=HYPERLINK("http://evil")', email="x@example.com")
    with core_clock.frozen(core_clock.now() + dt.timedelta(minutes=1)):
        export = schedule(kind="customers", format="xlsx", period="since_last_run",
                          columns=[{"field": "first_name", "title": "Ad"}])  # fmt: skip
        xlsx = b"".join(admin_client.get(f"/settings/outbound/exports/{export.pk}/download/").streaming_content)
        schedules.schedule_update(actor=Actor.system(), schedule=export, format="csv")
        text = b"".join(admin_client.get(f"/settings/outbound/exports/{export.pk}/download/").streaming_content)
    cell = openpyxl.load_workbook(io.BytesIO(xlsx)).active.cell(row=2, column=1)
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://evil")', "s")
    assert read_csv(text)[1] == ['\'=HYPERLINK("http://evil")']


def test_customers_export_with_their_totals(admin_client, orders):
    with core_clock.frozen(core_clock.now() + dt.timedelta(minutes=1)):  # the customers were created just now
        export = schedule(kind="customers", period="since_last_run", columns=[
            {"field": "email", "title": "E-posta"}, {"field": "total_spent", "title": "Toplam"},
            {"field": "currency", "title": "Para Birimi"}, {"field": "order_count", "title": "Sipariş"}])  # fmt: skip
        rows = read_csv(
            b"".join(admin_client.get(f"/settings/outbound/exports/{export.pk}/download/").streaming_content)
        )
    assert rows[0] == ["E-posta", "Toplam", "Para Birimi", "Sipariş"]
    assert sorted(rows[1:]) == [["ayse@example.com", "279.80", "TRY", "1"], ["can@example.com", "1434.56", "TRY", "3"]]


@pytest.mark.skipif(not SHOPIFY_HEADER.exists(), reason="../shared/data is absent (a fresh clone)")
def test_a_layout_in_shopifys_own_column_titles(admin_client, orders):
    """An ERP that reads Shopify's order export gets its column titles, read from a real export's header line."""
    titles = next(csv.reader(SHOPIFY_HEADER.open(encoding="utf-8-sig")))
    ours = {"Name": "number", "Email": "customer_email", "Currency": "currency", "Subtotal": "subtotal",
            "Shipping": "shipping_total", "Taxes": "tax_total", "Total": "total",
            "Created at": "placed_at"}  # fmt: skip
    columns = [{"field": ours[t], "title": t} for t in titles if t in ours]
    with core_clock.frozen(NOW):
        export = schedule(columns=columns)
        rows = read_csv(
            b"".join(admin_client.get(f"/settings/outbound/exports/{export.pk}/download/").streaming_content)
        )
    assert rows[0] == ["Name", "Email", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Created at"]
    assert rows[1][1:7] == ["ayse@example.com", "TRY", "249.90", "29.90", "0.00", "279.80"]


def at(local: str, zone: str = "Europe/Istanbul") -> dt.datetime:
    import zoneinfo

    return dt.datetime.fromisoformat(local).replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(dt.UTC)


def plan(**values) -> ExportSchedule:
    return ExportSchedule(**{"frequency": "daily", "at_time": dt.time(6, 0), "time_zone": "Europe/Istanbul",
                             **values})  # fmt: skip


def test_next_run_daily_on_istanbuls_clock_which_has_no_summer_time():
    daily = plan()
    assert next_run(daily, at("2026-03-28 05:59")) == dt.datetime(2026, 3, 28, 3, 0, tzinfo=dt.UTC)
    assert next_run(daily, at("2026-03-28 06:00")) == dt.datetime(2026, 3, 29, 3, 0, tzinfo=dt.UTC)
    # 29 March 2026: Europe moves its clocks, Istanbul does not (UTC+3 all year since 2016)
    assert next_run(daily, at("2026-03-29 06:00")) == dt.datetime(2026, 3, 30, 3, 0, tzinfo=dt.UTC)
    assert next_run(daily, at("2026-10-25 06:30")) == dt.datetime(2026, 10, 26, 3, 0, tzinfo=dt.UTC)
    # a zone with summer time keeps its wall-clock time: 06:00 in Berlin is 05:00 UTC, then 04:00
    berlin = plan(time_zone="Europe/Berlin")
    assert next_run(berlin, at("2026-03-28 07:00", "Europe/Berlin")) == dt.datetime(2026, 3, 29, 4, 0, tzinfo=dt.UTC)
    assert next_run(berlin, at("2026-03-27 07:00", "Europe/Berlin")) == dt.datetime(2026, 3, 28, 5, 0, tzinfo=dt.UTC)


def test_next_run_weekly_and_monthly_across_month_ends():
    friday = plan(frequency="weekly", weekday=4, at_time=dt.time(18, 30))
    assert next_run(friday, at("2026-12-07 10:00")) == at("2026-12-11 18:30")
    assert next_run(friday, at("2026-12-11 18:30")) == at("2026-12-18 18:30")
    on_31st = plan(frequency="monthly", day_of_month=31)
    assert next_run(on_31st, at("2027-01-31 06:00")) == at("2027-02-28 06:00")  # a short month: its last day
    assert next_run(on_31st, at("2027-02-28 06:00")) == at("2027-03-31 06:00")
    assert next_run(on_31st, at("2027-03-31 06:00")) == at("2027-04-30 06:00")
    assert next_run(on_31st, at("2028-02-01 00:00")) == at("2028-02-29 06:00")  # leap year
    assert next_run(on_31st, at("2026-12-31 07:00")) == at("2027-01-31 06:00")  # across the year's end
    first = plan(frequency="monthly", day_of_month=1, at_time=dt.time(0, 30))
    # 00:30 on 1 January in Istanbul is still 31 December in UTC
    assert next_run(first, at("2026-12-15 12:00")) == dt.datetime(2026, 12, 31, 21, 30, tzinfo=dt.UTC)


def test_the_period_a_run_covers():
    run_at = at("2026-03-01 06:00")  # Sunday 1 March
    assert period_bounds(plan(period="last_day"), run_at) == (at("2026-02-28 00:00"), at("2026-03-01 00:00"))
    assert period_bounds(plan(period="last_week"), run_at) == (at("2026-02-22 00:00"), at("2026-03-01 00:00"))
    assert period_bounds(plan(period="last_month"), run_at) == (at("2026-02-01 00:00"), at("2026-03-01 00:00"))
    assert period_bounds(plan(period="last_month"), at("2026-01-01 00:00")) == (at("2025-12-01 00:00"),
                                                                               at("2026-01-01 00:00"))  # fmt: skip
    since = plan(period="since_last_run", last_run_until=at("2026-02-27 06:00"))
    assert period_bounds(since, run_at) == (at("2026-02-27 06:00"), run_at)
    assert period_bounds(plan(period="since_last_run"), run_at) == (None, run_at)


def test_the_scheduled_run_mails_the_file_and_moves_to_the_next_run(smtp, orders):
    early, late = orders
    with core_clock.frozen(at("2026-03-01 12:00")):
        export = schedule(recipients="muhasebe@example.com; erp@example.com", format="xlsx")
    assert export.due_at == at("2026-03-02 06:00") and export.recipients == ["muhasebe@example.com", "erp@example.com"]
    with core_clock.frozen(at("2026-03-02 05:59")):
        assert schedules.run_due(worker="w") == 0  # not yet
    with core_clock.frozen(at("2026-03-02 06:00")):
        assert schedules.run_due(worker="w") == 1
        assert schedules.run_due(worker="w") == 0  # once
    [mail] = smtp.received
    assert sorted(mail.recipients) == ["erp@example.com", "muhasebe@example.com"]
    message = mail.message
    assert message["Subject"].endswith(": Muhasebe")  # in the shop's language (settings.LANGUAGE_CODE)
    assert "2" in message.get_body(("plain",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "kervan-orders-2026-03-02.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(attachment.get_content())).active
    assert [row[0].value for row in sheet.iter_rows()] == ["Sipariş No", early.number, late.number]
    export.refresh_from_db()
    assert (export.last_run_at, export.last_run_rows, export.last_error) == (at("2026-03-02 06:00"), 2, "")
    assert export.due_at == at("2026-03-03 06:00") and export.attempts == 0


def test_a_refused_mail_is_tried_again_later_and_the_error_shown(smtp, orders):
    smtp.refuse["erp@example.com"] = "550 no such user"
    with core_clock.frozen(at("2026-03-01 12:00")):
        export = schedule(recipients=["erp@example.com"])
    with core_clock.frozen(at("2026-03-02 06:00")):
        assert schedules.run_due(worker="w") == 0
    export.refresh_from_db()
    assert "550" in export.last_error and export.last_run_at is None
    assert export.due_at == at("2026-03-02 06:15")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"kind": "products"}, "kind"),
        ({"format": "pdf"}, "format"),
        ({"columns": []}, "columns"),
        ({"columns": [{"field": "password", "title": "x"}]}, "columns"),
        ({"columns": [{"field": "number", "title": "x" * 101}]}, "columns"),
        ({"recipients": ["not-an-email"]}, "recipients"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"at_time": "25:00"}, "at_time"),
        ({"frequency": "monthly", "day_of_month": 32}, "day_of_month"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_field(change, field):
    with pytest.raises(KervanError) as refused:
        schedule(**change)
    assert refused.value.field == field and refused.value.status == 400
    assert not ExportSchedule.objects.exists()


def test_a_large_export_is_streamed_in_chunks(admin_client):
    """100k+ rows are read with a cursor in chunks and written as they come: the response is a stream whose first
    chunk leaves before the last row is read."""
    from kervan.orders.models import Order

    customer = make_customer(email="bulk@example.com")
    template = make_order(customer, placed_at=dt.datetime(2026, 3, 1, 10, 0, tzinfo=IST))
    fields = {f.name: getattr(template, f.name) for f in Order._meta.concrete_fields if f.name not in ("id", "number",
              "external_id", "created_at", "updated_at")}  # fmt: skip
    Order.objects.bulk_create([Order(**fields, number=f"B{i:06d}", external_id=f"b{i}") for i in range(6000)])
    with core_clock.frozen(NOW):
        export = schedule(columns=[{"field": "number", "title": "No"}, {"field": "total", "title": "Tutar"}])
        response = admin_client.get(f"/settings/outbound/exports/{export.pk}/download/")
        chunks = list(response.streaming_content)
    assert len(chunks) > 10  # a chunk every 500 rows
    rows = read_csv(b"".join(chunks))
    assert len(rows) == 6002 and rows[-1] == ["B005999", "100.00"]
