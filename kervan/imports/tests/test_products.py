from decimal import Decimal

import pytest

from kervan.catalog.models import Category, Product, StockLevel, StockMovement, Variant
from kervan.imports.models import ImportStatus

from .conftest import csv_file, xlsx_file

pytestmark = pytest.mark.django_db

HEADER = ["Ürün Kodu", "Ana Ürün Kodu", "Ürün Adı", "Varyant", "Fiyat", "Para Birimi", "Stok", "Marka", "Kategori"]
ROWS = [
    ["TS-001-S", "TS-001", "Pamuklu Tişört", "Beyaz / S", "1.234,50", "TRY", "10", "Kervan", "Giyim"],
    ["TS-001-M", "TS-001", "", "Beyaz / M", "1234.50", "", "0", "", ""],
    ["KUP-1", "", "Seramik Kupa", "", "89,90", "TRY", "25", "", "Mutfak"],
]


def test_csv_import_groups_variants_into_products_with_prices_and_stock(run_import):
    job = run_import("products", csv_file([HEADER, *ROWS], delimiter=";"))
    assert job.status == ImportStatus.DONE and (job.imported, job.skipped) == (3, 0)
    shirt = Product.objects.get(external_id="TS-001")
    assert (shirt.title, shirt.brand, shirt.category.name) == ("Pamuklu Tişört", "Kervan", "Giyim")
    assert sorted(shirt.variants.values_list("sku", "title", "price")) == [
        ("TS-001-M", "Beyaz / M", Decimal("1234.50")),
        ("TS-001-S", "Beyaz / S", Decimal("1234.50")),
    ]
    small = Variant.objects.get(sku="TS-001-S")
    assert small.stock.quantity == 10
    move = StockMovement.objects.get(variant=small)
    assert (move.delta, move.quantity_after, move.reason) == (10, 10, "import")
    assert Variant.objects.get(sku="TS-001-M").stock.quantity == 0
    assert not StockMovement.objects.filter(variant__sku="TS-001-M").exists()
    assert Product.objects.get(title="Seramik Kupa").variants.get().price == Decimal("89.90")
    assert Category.objects.count() == 2


def test_reimport_updates_price_and_stock_with_a_movement(run_import):
    run_import("products", csv_file([HEADER, *ROWS]))
    job = run_import(
        "products", csv_file([["SKU", "Fiyat", "Stok"], ["TS-001-S", "999,00", "7"], ["KUP-1", "89.90", "25"]])
    )
    assert (job.imported, job.updated, job.unchanged) == (0, 1, 1)
    small = Variant.objects.get(sku="TS-001-S")
    assert small.price == Decimal("999.00") and StockLevel.objects.get(variant=small).quantity == 7
    last = StockMovement.objects.filter(variant=small).latest("id")
    assert (last.delta, last.quantity_after, last.reason) == (-3, 7, "import")
    assert Product.objects.count() == 2 and Variant.objects.count() == 3


def test_bad_product_rows(run_import):
    rows = [
        ["SKU", "Ürün Adı", "Fiyat", "Stok"],
        ["A1", "Kalem", "-5", "1"],  # negative price
        ["A2", "Defter", "12,00", "bir"],  # stock not a number
        ["A3", "", "10", "1"],  # new product without a title
        ["A4", "Silgi", "", "1"],  # new SKU without a price
        ["A5", "Cetvel", "15", "3"],
        ["A5", "Cetvel", "16", "3"],  # the same SKU twice
    ]
    job = run_import("products", csv_file(rows))
    codes = list(job.row_errors.order_by("row").values_list("row", "column", "code"))
    assert codes == [
        (2, "Fiyat", "invalid_amount"),
        (3, "Stok", "invalid_number"),
        (4, "Ürün Adı", "missing_title"),
        (5, "Fiyat", "missing_price"),
        (7, "SKU", "duplicate_sku"),
    ]
    assert list(Variant.objects.values_list("sku", flat=True)) == ["A5"]
    assert (job.imported, job.skipped) == (1, 5)


def test_refuse_mode_writes_no_product(run_import):
    job = run_import(
        "products", csv_file([["SKU", "Ürün Adı", "Fiyat"], ["A1", "Kalem", "5"], ["A2", "x", "yok"]]), mode="refuse"
    )
    assert job.status == ImportStatus.REFUSED
    assert Product.objects.count() == 0 and Variant.objects.count() == 0 and Category.objects.count() == 0


def test_xlsx_products(run_import):
    job = run_import("products", xlsx_file([["SKU", "Title", "Price", "Stock"], ["X-1", "Lamba", 149.9, 4]]))
    assert job.imported == 1
    lamp = Variant.objects.get(sku="X-1")
    assert lamp.price == Decimal("149.90") and lamp.stock.quantity == 4 and lamp.currency == "TRY"
