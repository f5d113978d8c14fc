"""Issue 11, payments and reviews of related files: a payment's date, a review of a product, and the imported review
on the customer's timeline as "Submitted Review"."""

import datetime as dt
from decimal import Decimal

import pytest

from kervan.catalog.models import Product, Variant
from kervan.feedback.models import Review
from kervan.imports.actions import import_job_start, import_job_upload
from kervan.imports.models import ImportStatus
from kervan.orders.models import Order, Payment

from .conftest import csv_file

pytestmark = pytest.mark.django_db

ORDERS = [
    ["order_id", "customer_id", "email", "order_date", "status", "shipping_country", "shipping_city"],
    ["S-1", "M-1", "ayse@example.com", "2024-04-01 10:00", "delivered", "TR", "İzmir"],
    ["S-2", "M-2", "", "2024-04-02 11:00", "delivered", "TR", "Ankara"],
]
ITEMS = [
    ["order_id", "sku", "product_name", "quantity", "unit_price"],
    ["S-1", "KUP-1", "Kupa", "2", "50.00"],
    ["S-2", "TAB-1", "Tabak", "1", "80.00"],
]
PAYMENTS = [
    ["order_id", "payment_method", "payment_installments", "payment_amount", "payment_date"],
    ["S-1", "Kredi Kartı", "3", "100.00", "2024-04-01 10:05"],
    ["S-2", "Havale/EFT", "1", "80.00", "2024-04-03 09:30"],
]
REVIEWS = [
    ["review_id", "order_id", "sku", "rating", "review_title", "review_text", "review_date"],
    ["R-1", "S-1", "KUP-1", "5", "Harika kupa", "Çok beğendim", "2024-04-10 20:00"],
    ["R-2", "S-2", "", "2", "", "Geç geldi", "2024-04-12 08:00"],
]
FILES = {"orders.csv": ORDERS, "order_items.csv": ITEMS, "payments.csv": PAYMENTS, "reviews.csv": REVIEWS}


@pytest.fixture
def imported(admin_actor, django_capture_on_commit_callbacks):
    product = Product.objects.create(title="Kupa")
    Variant.objects.create(product=product, sku="KUP-1", price=Decimal("50"))
    uploads = [csv_file(rows, name=name) for name, rows in FILES.items()]
    with django_capture_on_commit_callbacks(execute=True):
        job = import_job_upload(actor=admin_actor, kind="related", upload=uploads)
        assert job.options["related"]["roles"] == {
            "orders.csv": "orders", "order_items.csv": "items", "payments.csv": "payments", "reviews.csv": "reviews",
        }  # fmt: skip
        import_job_start(actor=admin_actor, job=job, options={"currency": "TRY", "time_zone": "Europe/Istanbul"})
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.failure
    assert list(job.row_errors.values_list("row", "column", "reason")) == []
    return job, product


def test_payments_keep_method_installments_amount_and_date(imported):
    job, _product = imported
    first = Payment.objects.get(order__number="S-1")
    assert (first.method, first.installments, first.amount) == ("card", 3, Decimal("100.00"))
    assert first.occurred_at == dt.datetime(2024, 4, 1, 7, 5, tzinfo=dt.UTC)  # 10:05 in Istanbul
    second = Payment.objects.get(order__number="S-2")
    assert (second.method, second.occurred_at) == ("bank_transfer", dt.datetime(2024, 4, 3, 6, 30, tzinfo=dt.UTC))
    assert job.summary["payments"] == 2


def test_reviews_of_a_product_or_an_order_are_feedback_records_on_the_timeline(imported, admin_client):
    job, product = imported
    of_product = Review.objects.get(external_id="R-1")
    order = Order.objects.get(number="S-1")
    assert (of_product.rating, of_product.title, of_product.text) == (5, "Harika kupa", "Çok beğendim")
    assert (of_product.product_id, of_product.order_id, of_product.customer_id) == (
        product.pk, order.pk, order.customer_id,
    )  # fmt: skip
    assert of_product.submitted_at == dt.datetime(2024, 4, 10, 17, 0, tzinfo=dt.UTC)
    of_order = Review.objects.get(external_id="R-2")
    assert (of_order.product_id, of_order.order.number, of_order.rating) == (None, "S-2", 2)
    assert job.summary["reviews"] == 2
    page = admin_client.get(f"/customers/{order.customer_id}/").content.decode()
    assert "Submitted Review" in page and "Harika kupa" in page
