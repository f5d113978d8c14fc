"""Issue 11 on the real published samples in ../shared/data where they are export-shaped: OpenCart's own order status
table and order tables (column for column), and the address company of Shopify's and WooCommerce's order exports."""

import csv
import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kervan.core.testing import SHARED_DATA
from kervan.customers.models import Identity
from kervan.imports.actions import import_job_start, import_job_upload
from kervan.imports.file_settings import suggest_status
from kervan.imports.models import ImportStatus
from kervan.orders.models import Order, Shipment

from .conftest import csv_file

pytestmark = pytest.mark.django_db

DATA = SHARED_DATA
OPENCART = DATA / "webhooks" / "opencart"
EXPORTS = DATA / "exports"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not here (a fresh clone)")


def opencart_statuses() -> dict[str, str]:
    with open(OPENCART / "opencart_order_status.csv", encoding="utf-8") as f:
        return {row["order_status_id"]: row["name"] for row in csv.DictReader(f)}


def opencart_tables() -> dict[str, list[str]]:
    """{table: its columns} from the published schema (lines "oc_order: order_id:int(11), …")."""
    tables = {}
    for line in (OPENCART / "opencart4_order_tables_columns.txt").read_text(encoding="utf-8").splitlines():
        name, sep, rest = line.partition(": ")
        if sep and name.startswith("oc_"):
            tables[name] = [column.split(":")[0] for column in rest.split(", ")]
    return tables


@needs_data
def test_every_opencart_order_status_name_gets_a_suggestion():
    suggested = {name: suggest_status(name) for name in opencart_statuses().values()}
    assert suggested == {
        "Pending": "placed", "Processing": "paid", "Shipped": "shipped", "Complete": "delivered",
        "Canceled": "cancelled", "Denied": "cancelled", "Canceled Reversal": "paid", "Failed": "cancelled",
        "Refunded": "refunded", "Reversed": "refunded", "Chargeback": "refunded", "Expired": "cancelled",
        "Processed": "paid", "Voided": "cancelled",
    }  # fmt: skip


@needs_data
def test_opencart_order_tables_import_as_related_files(admin_actor, django_capture_on_commit_callbacks):
    """oc_customer, oc_order and oc_order_product with every column OpenCart 4 has: roles, joins and the preset
    recognised, statuses by OpenCart's own ids, a guest order (customer_id 0) kept, no carrier made of a company."""
    tables = opencart_tables()

    def row(table: str, **cells) -> list[str]:
        return [str(cells.get(column, "")) for column in tables[table]]

    customers = [
        tables["oc_customer"],
        row("oc_customer", customer_id=7, customer_group_id=1, firstname="Ayşe", lastname="Yılmaz",
            email="ayse@example.com", telephone="05321112233", status=1, date_added="2023-01-01 10:00:00"),
    ]  # fmt: skip
    orders = [
        tables["oc_order"],
        row("oc_order", order_id=1, customer_id=7, firstname="Ayşe", lastname="Yılmaz", email="ayse@example.com",
            shipping_company="Acme Ltd", shipping_city="İzmir", shipping_country="Turkey", total="130.0000",
            order_status_id=5, currency_code="TRY", date_added="2024-03-01 12:30:00"),
        row("oc_order", order_id=2, customer_id=0, firstname="Misafir", lastname="Alıcı", email="guest@example.com",
            shipping_city="Ankara", shipping_country="Turkey", total="40.0000", order_status_id=7,
            currency_code="TRY", date_added="2024-03-02 09:00:00"),
        row("oc_order", order_id=3, customer_id=7, email="ayse@example.com", total="10.0000", order_status_id=15,
            currency_code="TRY", date_added="2024-03-05 09:00:00"),
    ]  # fmt: skip
    items = [
        tables["oc_order_product"],
        row("oc_order_product", order_product_id=1, order_id=1, product_id=40, name="iPhone", model="product 11",
            quantity=2, price="50.0000", total="100.0000", tax="10.0000"),
        row("oc_order_product", order_product_id=2, order_id=1, product_id=41, name="iMac", model="Product 14",
            quantity=1, price="10.0000", total="10.0000", tax="2.0000"),
        row("oc_order_product", order_product_id=3, order_id=2, product_id=41, name="iMac", model="Product 14",
            quantity=1, price="40.0000", total="40.0000", tax="0.0000"),
        row("oc_order_product", order_product_id=4, order_id=3, product_id=40, name="iPhone", model="product 11",
            quantity=1, price="10.0000", total="10.0000", tax="0.0000"),
    ]  # fmt: skip
    files = {"oc_customer.csv": customers, "oc_order.csv": orders, "oc_order_product.csv": items}
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_upload(
            actor=admin_actor, kind="related", upload=[csv_file(r, name=n) for n, r in files.items()]
        )
        assert job.options["related"]["roles"] == {
            "oc_customer.csv": "customers", "oc_order.csv": "orders", "oc_order_product.csv": "items",
        }  # fmt: skip
        assert job.options["related"]["joins"] == {
            "orders": ["customer_id", "customer_id"], "items": ["order_id", "order_id"],
        }  # fmt: skip
        assert job.preset == "opencart_related"
        assert job.mapping["oc_order.date_added"] == "placed_at" and job.mapping["oc_order.order_status_id"] == "status"
        for column in ("oc_order.shipping_company", "oc_customer.status", "oc_order_product.tax"):
            assert column not in job.mapping, column
        joins = job.facts["joins"]
        assert (joins["items"]["joined"], joins["items"]["orphans"]) == (4, 0)
        assert (joins["orders"]["joined"], joins["orders"]["orphans"]) == (2, 1)  # the guest has no oc_customer row
        import_job_start(actor=admin_actor, job=job, options={"time_zone": "Europe/Istanbul"})
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.failure
    assert list(job.row_errors.values_list("row", "column", "code")) == []
    placed = {o.number: o for o in Order.objects.all()}
    first, guest, third = placed["1"], placed["2"], placed["3"]
    assert (first.status, first.total, first.currency) == ("delivered", Decimal("130.00"), "TRY")
    assert (first.shipping_city, first.shipping_country) == ("İzmir", "TR")
    assert first.placed_at == dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC)
    assert list(first.lines.order_by("sku").values_list("sku", "quantity", "unit_price")) == [
        ("Product 14", 1, Decimal("10.00")), ("product 11", 2, Decimal("50.00")),
    ]  # fmt: skip
    assert not Shipment.objects.exists()  # "Acme Ltd" is the address's company, not a carrier
    assert Identity.objects.get(kind="source_id", value="7").customer_id == first.customer_id == third.customer_id
    assert (guest.status, guest.customer.email) == ("cancelled", "guest@example.com")
    assert guest.customer_id != first.customer_id
    assert third.status == "paid"  # 15 Processed


@needs_data
def test_a_shipping_company_column_is_the_address_not_a_carrier(admin_actor):
    header = (EXPORTS / "shopify" / "orders_export_header.csv").read_text(encoding="utf-8-sig").strip().split(",")
    row = ["#1001" if name == "Name" else "" for name in header]
    shopify = import_job_upload(actor=admin_actor, kind="orders", upload=csv_file([header, row]))
    assert shopify.preset == "shopify_orders" and "Shipping Company" not in shopify.mapping
    path = EXPORTS / "woocommerce" / "webtoffee_order_export_Sample_Order.csv"
    woo = import_job_upload(actor=admin_actor, kind="orders", upload=SimpleUploadedFile(path.name, path.read_bytes()))
    assert woo.preset == "woocommerce_orders" and "shipping_company" not in woo.mapping
