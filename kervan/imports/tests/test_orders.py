from decimal import Decimal

import pytest

from kervan.catalog.models import Product, StockLevel, Variant
from kervan.customers.models import Customer, CustomerStats
from kervan.imports.models import ImportStatus
from kervan.orders.models import Order, OrderLine

from .conftest import csv_file, xlsx_file

pytestmark = pytest.mark.django_db

HEADER = [
    "Sipariş No",
    "Sipariş Tarihi",
    "E-posta",
    "Telefon",
    "Ad Soyad",
    "SKU",
    "Ürün Adı",
    "Adet",
    "Birim Fiyat",
    "Kargo",
    "Durum",
]
ROWS = [
    [
        "1001",
        "05.03.2024 14:30",
        "ayse@example.com",
        "0532 123 45 67",
        "Ayşe Yılmaz",
        "KUP-1",
        "",
        "2",
        "89,90",
        "29,90",
        "Ödendi",
    ],
    ["1001", "", "", "", "", "", "Hediye paketi", "1", "10", "", ""],
    ["1002", "2024-04-01", "", "05321234567", "", "", "Defter", "3", "12.50", "0", "teslim edildi"],
]


@pytest.fixture
def mug(db):
    product = Product.objects.create(title="Seramik Kupa")
    variant = Variant.objects.create(product=product, sku="KUP-1", price=Decimal("89.90"))
    StockLevel.objects.create(variant=variant, quantity=50)
    return variant


def test_csv_orders_grouped_by_number_with_customers_matched_by_email_or_phone(run_import, mug):
    job = run_import("orders", csv_file([HEADER, *ROWS]))
    assert job.status == ImportStatus.DONE, job.failure
    assert (job.imported, job.skipped, job.error_count) == (3, 0, 0)
    customer = Customer.objects.get()
    assert (customer.first_name, customer.last_name, customer.phone) == ("Ayşe", "Yılmaz", "+905321234567")
    first = Order.objects.get(external_id="1001")
    assert (first.number, first.status, first.customer_id, first.source.kind) == ("1001", "paid", customer.pk, "import")
    assert first.total == Decimal("89.90") * 2 + 10 + Decimal("29.90")
    assert sorted(first.lines.values_list("title", "quantity")) == [("Hediye paketi", 1), ("Seramik Kupa", 2)]
    assert first.lines.get(sku="KUP-1").variant_id == mug.pk
    second = Order.objects.get(external_id="1002")
    assert (second.status, second.customer_id, second.total) == ("delivered", customer.pk, Decimal("37.50"))
    stats = CustomerStats.objects.get(customer=customer)
    assert (stats.order_count, stats.total_spent) == (2, first.total + second.total)


def test_reimport_does_not_duplicate_orders(run_import, mug):
    run_import("orders", csv_file([HEADER, *ROWS]))
    job = run_import("orders", csv_file([HEADER, *ROWS]))
    assert (job.imported, job.unchanged) == (0, 3)
    assert Order.objects.count() == 2 and OrderLine.objects.count() == 3
    assert CustomerStats.objects.get().order_count == 2


def test_a_bad_line_skips_its_whole_order_and_each_failure_is_reported_once_for_its_real_reason(run_import, mug):
    rows = [
        *ROWS,
        ["1003", "2024-04-02", "mehmet@example.com", "", "Mehmet Kaya", "", "Kalem", "1", "5", "", ""],
        ["1003", "", "", "", "", "", "Silgi", "0", "2", "", ""],  # quantity 0
        ["1004", "", "zeynep@example.com", "", "", "", "Kalem", "1", "5", "", ""],  # no date
        ["1005", "2024-04-02", "", "", "", "YOK-1", "", "1", "5", "", ""],  # a guest, a SKU the catalogue lacks
    ]
    job = run_import("orders", csv_file([HEADER, *rows]))
    report = list(job.row_errors.order_by("row", "id").values_list("row", "column", "code", "reason"))
    assert report == [
        (6, "Adet", "invalid_quantity", "'0': a quantity cannot be 0."),
        (7, "Sipariş Tarihi", "missing_date", "An order needs a date."),
    ]
    assert (job.imported, job.skipped) == (4, 3)
    assert set(Order.objects.values_list("external_id", flat=True)) == {"1001", "1002", "1005"}
    assert not Customer.objects.filter(email="mehmet@example.com").exists()
    guest_line = OrderLine.objects.get(order__external_id="1005")
    assert (guest_line.sku, guest_line.title, guest_line.variant_id) == ("YOK-1", "YOK-1", None)


def test_refuse_mode_writes_no_order_and_no_customer(run_import, mug):
    rows = [*ROWS, ["1003", "2024-04-02", "mehmet@example.com", "", "", "", "Kalem", "x", "5", "", ""]]
    job = run_import("orders", csv_file([HEADER, *rows]), mode="refuse")
    assert job.status == ImportStatus.REFUSED
    assert Order.objects.count() == 0 and Customer.objects.count() == 0
    assert StockLevel.objects.get(variant=mug).quantity == 50


def test_xlsx_orders(run_import):
    rows = [
        ["Order Number", "Order Date", "Email", "Product Name", "Quantity", "Unit Price", "Status"],
        ["W-1", "2024-01-10 09:00", "can@example.com", "Lamba", 1, 149.9, "cancelled"],
    ]
    job = run_import("orders", xlsx_file(rows))
    assert job.status == ImportStatus.DONE and job.imported == 1, list(job.row_errors.values_list("reason"))
    order = Order.objects.get()
    assert (order.status, order.total) == ("cancelled", Decimal("149.90"))
    assert CustomerStats.objects.get(customer=order.customer).order_count == 0


@pytest.mark.parametrize("mode", ["skip", "refuse"])
def test_an_order_that_cannot_be_recorded_is_reported_and_refuse_mode_rolls_back(run_import, mug, mode):
    header = [*HEADER, "İade Tutarı"]
    rows = [[*row, ""] for row in ROWS]
    rows[2][-1] = "99"  # refunds more than the order's total
    job = run_import("orders", csv_file([header, *rows]), mode=mode)
    assert list(job.row_errors.values_list("row", "code")) == [(4, "invalid_refund")]
    assert job.row_errors.get().reason == "Order 1002: the refunds come to more than its total."
    if mode == "skip":
        assert job.status == ImportStatus.DONE and (job.imported, job.skipped) == (2, 1)
        assert list(Order.objects.values_list("external_id", flat=True)) == ["1001"]
    else:
        assert job.status == ImportStatus.REFUSED
        assert Order.objects.count() == 0 and Customer.objects.count() == 0
        assert StockLevel.objects.get(variant=mug).quantity == 50


def test_imported_orders_do_not_take_todays_stock(run_import, mug):
    job = run_import("orders", csv_file([HEADER, *ROWS]), mode="skip")
    assert job.imported >= 1 and Order.objects.filter(lines__variant=mug).exists()
    assert StockLevel.objects.get(variant=mug).quantity == 50


def test_channel_and_marketplace_spellings_are_read_and_unknown_ones_reported(run_import):
    header = ["Sipariş No", "Sipariş Tarihi", "E-posta", "Ürün Adı", "Adet", "Birim Fiyat", "Kanal", "Pazaryeri"]
    rows = [
        ["1", "2024-04-01", "a@example.com", "Kalem", "1", "5", "Pazaryeri", "Trendyol"],
        ["2", "2024-04-01", "a@example.com", "Kalem", "1", "5", "faks", ""],
        ["3", "2024-04-01", "a@example.com", "Kalem", "1", "5", "web", "ebay"],
    ]
    job = run_import("orders", csv_file([header, *rows]))
    errors = list(job.row_errors.filter(code="invalid_choice").order_by("row").values_list("row", "column", "reason"))
    assert [e[:2] for e in errors] == [(3, "Kanal"), (4, "Pazaryeri")]
    assert errors[0][2].startswith("'faks' is not one of: web,") and errors[1][2].startswith("'ebay' is not one of:")
    assert list(Order.objects.values_list("sales_channel", "marketplace")) == [("marketplace", "trendyol")]
