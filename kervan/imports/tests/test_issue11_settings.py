"""Issue 11, per-file settings and cancellation documents: the date format and decimal separator chosen for a file
decide how its cells read, a currency column beats the file's currency, and a cancellation invoice that a status
column (not a number prefix) marks becomes the original order's return and refund."""

import datetime as dt
from decimal import Decimal

import pytest

from kervan.customers.models import CustomerStats
from kervan.imports import actions
from kervan.imports.models import ImportStatus
from kervan.orders.models import Order, Refund, Return
from kervan.orders.stats_rebuild import stats_rebuild

from .conftest import csv_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(admin_actor, django_capture_on_commit_callbacks):
    def go(rows, *, options=None):
        with django_capture_on_commit_callbacks(execute=True):
            job = actions.import_job_upload(actor=admin_actor, kind="orders", upload=csv_file(rows))
            actions.import_job_start(actor=admin_actor, job=job, options=options)
        job.refresh_from_db()
        return job

    return go


def errors(job) -> list[tuple]:
    return list(job.row_errors.order_by("row", "id").values_list("row", "column", "code"))


HEADER = ["Order No", "Order Date", "Email", "Product", "Quantity", "Unit Price"]
ROWS = [["1", "01/02/2024 10:00", "a@example.com", "Kalem", "1", "1,250"]]


@pytest.mark.parametrize(
    ("options", "placed", "total"),
    [
        ({"date_order": "dmy", "decimal": ","}, dt.datetime(2024, 2, 1, 7, 0, tzinfo=dt.UTC), Decimal("1.25")),
        ({"date_order": "mdy", "decimal": "."}, dt.datetime(2024, 1, 2, 7, 0, tzinfo=dt.UTC), Decimal("1250.00")),
    ],
)
def test_the_date_format_and_decimal_separator_chosen_decide_how_cells_read(run, options, placed, total):
    job = run([HEADER, *ROWS], options=options)
    assert job.status == ImportStatus.DONE and errors(job) == [], errors(job)
    order = Order.objects.get()
    assert (order.placed_at, order.total) == (placed, total)


def test_a_currency_column_beats_the_files_currency(run):
    header = [*HEADER, "Currency"]
    rows = [
        ["1", "2024-02-01", "a@example.com", "Kalem", "1", "10", "EUR"],
        ["2", "2024-02-02", "a@example.com", "Kalem", "1", "10", ""],
    ]
    job = run([header, *rows], options={"currency": "USD"})
    assert job.status == ImportStatus.DONE and errors(job) == [], errors(job)
    assert dict(Order.objects.values_list("number", "currency")) == {"1": "EUR", "2": "USD"}


def test_a_cancellation_invoice_marked_by_a_status_column_becomes_the_originals_return(run):
    """Its status says it undoes a sale and it names the original: its units (written positive here, as many ERPs
    write a return invoice) come back from that order, which keeps its own number and status."""
    header = ["Invoice", "Date", "Customer No", "SKU", "Product", "Quantity", "Unit Price", "Status", "Original Order"]
    rows = [
        ["F-1", "2024-05-01", "C-1", "K", "Kalem", "3", "10", "Satış Faturası", ""],
        ["F-2", "2024-05-03", "C-1", "K", "Kalem", "1", "10", "İade Faturası", "F-1"],
        ["F-3", "2024-05-04", "C-1", "S", "Silgi", "2", "5", "Satış Faturası", ""],
        ["F-4", "2024-05-05", "C-1", "S", "Silgi", "-2", "5", "İptal Faturası", "F-3"],
        ["F-5", "2024-05-06", "C-1", "D", "Defter", "1", "7", "İade Faturası", ""],  # no original: its own return
        ["F-6", "2024-05-07", "C-1", "D", "Defter", "1", "3", "İade Faturası", "0"],  # "0" (WooCommerce) names none
    ]
    statuses = {"Satış Faturası": "delivered", "İade Faturası": "returned", "İptal Faturası": "cancelled"}
    job = run([header, *rows], options={"statuses": statuses})
    assert job.mapping["Status"] == "status" and job.mapping["Original Order"] == "original_order"
    assert job.status == ImportStatus.DONE and errors(job) == [], errors(job)
    orders = {o.number: o for o in Order.objects.all()}
    assert set(orders) == {"F-1", "F-3", "F-5", "F-6"}
    one, three, five = orders["F-1"], orders["F-3"], orders["F-5"]
    assert (one.status, one.total, one.refunded_total) == ("delivered", Decimal("30.00"), Decimal("10.00"))
    assert list(one.returns.values_list("external_id", flat=True)) == ["F-2"]
    assert one.lines.get().returned_quantity == 1
    assert Refund.objects.get(order=one).external_id == "F-2"
    assert (three.refunded_total, three.returns.get().external_id) == (Decimal("10.00"), "F-4")
    assert (five.status, five.refunded_total, five.lines.get().returned_quantity) == ("delivered", Decimal("7.00"), 1)
    assert (orders["F-6"].status, orders["F-6"].refunded_total) == ("delivered", Decimal("3.00"))
    assert Return.objects.count() == 4
    stats = CustomerStats.objects.get(customer=one.customer)
    assert (stats.order_count, stats.returns_count, stats.total_spent) == (4, 4, Decimal("20.00"))
    assert stats_rebuild(check=True).drifted == 0
    again = run([header, *rows], options={"statuses": statuses})
    assert again.status == ImportStatus.DONE and errors(again) == [] and again.imported == 0
    assert (Order.objects.count(), Return.objects.count(), Refund.objects.count()) == (4, 4, 4)
