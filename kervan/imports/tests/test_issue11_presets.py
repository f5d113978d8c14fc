"""Issue 11, presets: Trendyol's and Hepsiburada's order Excel files are recognised and imported without mapping
anything by hand (their statuses, date order and marketplace come from the preset); the generic English headers too."""

import datetime as dt
from decimal import Decimal

import pytest

from kervan.imports import actions
from kervan.imports.models import ImportStatus
from kervan.orders.models import Order, Shipment

from .conftest import csv_file, xlsx_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(admin_actor, django_capture_on_commit_callbacks):
    def go(upload, *, options=None):
        with django_capture_on_commit_callbacks(execute=True):
            job = actions.import_job_upload(actor=admin_actor, kind="orders", upload=upload)
            actions.import_job_start(actor=admin_actor, job=job, options=options)
        job.refresh_from_db()
        return job

    return go


def errors(job) -> list[tuple]:
    return list(job.row_errors.order_by("row", "id").values_list("row", "column", "code"))


TRENDYOL = ["Paket No", "Sipariş Numarası", "Sipariş Tarihi", "Sipariş Statüsü", "Alıcı", "İl", "Stok Kodu",
            "Ürün Adı", "Adet", "Birim Fiyatı", "Kargo Firması", "Kargo Takip Numarası"]  # fmt: skip


def test_a_trendyol_order_excel_is_recognised_and_imported(run):
    rows = [
        TRENDYOL,
        ["P1", "10001", "03.02.2024 14:30", "Teslim Edildi", "Ayşe Yılmaz", "İzmir", "KUP-1", "Kupa", 2, "49,90",
         "Yurtiçi Kargo", "YK123"],
        ["P1", "10001", "03.02.2024 14:30", "Teslim Edildi", "Ayşe Yılmaz", "İzmir", "TAB-1", "Tabak", 1, "100,00",
         "Yurtiçi Kargo", "YK123"],
        ["P2", "10002", "04.02.2024 09:00", "Kargoda", "Can Demir", "Ankara", "KUP-1", "Kupa", 1, "49,90", "", ""],
        ["P3", "10003", "05.02.2024 10:00", "İptal Edildi", "Deniz Ak", "Bursa", "TAB-1", "Tabak", 1, "100,00", "",
         ""],
    ]  # fmt: skip
    job = run(xlsx_file(rows, name="trendyol_siparisler.xlsx"))
    assert job.preset == "trendyol_orders"
    assert job.options["date_order"] == "dmy"
    assert job.status == ImportStatus.DONE and errors(job) == [], errors(job)
    orders = {o.number: o for o in Order.objects.all()}
    first = orders["10001"]
    # 03.02.2024 is the 3rd of February (day first), 14:30 in Istanbul.
    assert first.placed_at == dt.datetime(2024, 2, 3, 11, 30, tzinfo=dt.UTC)
    assert (first.status, first.total, first.shipping_city) == ("delivered", Decimal("199.80"), "İzmir")
    assert (first.sales_channel, first.marketplace) == ("marketplace", "trendyol")
    assert (first.customer.first_name, first.customer.last_name) == ("Ayşe", "Yılmaz")
    assert list(first.lines.order_by("sku").values_list("sku", "quantity")) == [("KUP-1", 2), ("TAB-1", 1)]
    # "Kargoda" without a carrier or tracking number: accepted as shipped.
    assert orders["10002"].status == "shipped"
    assert orders["10003"].status == "cancelled"
    assert Shipment.objects.filter(order=orders["10002"]).count() == 0


HEPSIBURADA = ["Sipariş Numarası", "Paket Numarası", "Sipariş Tarihi", "Sipariş Durumu", "Alıcı Adı",
               "Teslimat Şehri", "Satıcı Stok Kodu", "Ürün Adı", "Adet", "Birim Fiyat", "Kargo Firması",
               "Kargo Takip Numarası"]  # fmt: skip


def test_a_hepsiburada_order_excel_is_recognised_and_imported(run):
    rows = [
        HEPSIBURADA,
        ["HB-1", "PK1", "12.03.2024 08:15", "Teslim Edildi", "Elif Kaya", "İstanbul", "S-1", "Silgi", 3, "12,50",
         "Aras", "AR1"],
        ["HB-2", "PK2", "13.03.2024 18:00", "Hazırlanıyor", "Mert Öz", "Konya", "K-1", "Kalem", 1, "1.234,00", "",
         ""],
        ["HB-3", "PK3", "14.03.2024 18:00", "İade", "Elif Kaya", "İstanbul", "K-1", "Kalem", 1, "20,00", "", ""],
    ]  # fmt: skip
    job = run(xlsx_file(rows, name="hepsiburada.xlsx"))
    assert job.preset == "hepsiburada_orders"
    assert job.status == ImportStatus.DONE and errors(job) == [], errors(job)
    orders = {o.number: o for o in Order.objects.all()}
    assert set(orders) == {"HB-1", "HB-2", "HB-3"}
    first = orders["HB-1"]
    assert first.placed_at == dt.datetime(2024, 3, 12, 5, 15, tzinfo=dt.UTC)
    assert (first.status, first.total, first.shipping_city) == ("delivered", Decimal("37.50"), "İstanbul")
    assert (first.sales_channel, first.marketplace) == ("marketplace", "hepsiburada")
    assert (orders["HB-2"].status, orders["HB-2"].total) == ("paid", Decimal("1234.00"))
    returned = orders["HB-3"]
    assert (returned.refunded_total, returned.lines.get().returned_quantity) == (Decimal("20.00"), 1)


def test_generic_english_order_headers_need_no_mapping(run):
    header = ["order_id", "customer_id", "order_date", "status", "product_id", "price", "freight", "country", "city"]
    rows = [
        ["x1", "c1", "2024-01-02 10:00:00", "delivered", "p1", "10.00", "2.00", "DE", "Berlin"],
        ["x1", "c1", "2024-01-02 10:00:00", "delivered", "p2", "5.00", "1.00", "DE", "Berlin"],
    ]
    job = run(csv_file([header, *rows]), options={"currency": "EUR", "time_zone": "Europe/Berlin"})
    assert job.preset == "generic_orders"
    assert job.status == ImportStatus.DONE and errors(job) == [], errors(job)
    order = Order.objects.get()
    assert (order.currency, order.total, order.shipping_total) == ("EUR", Decimal("18.00"), Decimal("3.00"))
    assert (order.shipping_country, order.shipping_city) == ("DE", "Berlin")
    assert order.placed_at == dt.datetime(2024, 1, 2, 9, 0, tzinfo=dt.UTC)
