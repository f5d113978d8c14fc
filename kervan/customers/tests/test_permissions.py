"""Each role × each customer, order and catalogue write endpoint: allowed, or 403 with nothing changed."""

import pytest

from kervan.accounts.testing import assert_form_matrix, assert_page_matrix, assert_read_matrix, assert_write_matrix
from kervan.catalog.models import Category, Product, StockMovement
from kervan.customers.models import ConsentRecord, Customer, CustomerNote, CustomFieldDefinition, Identity
from kervan.customers.tests.factories import make_customer, make_order
from kervan.orders.models import Order, OrderStatusChange, Refund, Return

pytestmark = pytest.mark.django_db


def test_customer_api_writes():
    assert_write_matrix(
        "POST", "/api/v1/customers/", lambda role: {"first_name": role}, "customers", lambda: Customer.objects.count()
    )
    target = make_customer(city="Ankara")
    assert_write_matrix(
        "PATCH",
        f"/api/v1/customers/{target.pk}",
        lambda role: {"city": role},
        "customers",
        lambda: Customer.objects.get(pk=target.pk).city,
    )
    assert_write_matrix(
        "POST",
        f"/api/v1/customers/{target.pk}/notes",
        {"body": "not"},
        "customers",
        lambda: CustomerNote.objects.count(),
    )
    assert_write_matrix(
        "POST",
        f"/api/v1/customers/{target.pk}/identities",
        lambda role: {"kind": "email", "value": f"{role}@example.com"},
        "customers",
        lambda: Identity.objects.count(),
    )
    assert_write_matrix(
        "POST",
        f"/api/v1/customers/{target.pk}/consents",
        {"channel": "sms", "status": "granted"},
        "customers",
        lambda: ConsentRecord.objects.count(),
    )
    assert_write_matrix(
        "POST",
        lambda role: f"/api/v1/customers/{make_customer().pk}/merge",
        lambda role: {"merged_id": make_customer().pk},
        "customers",
        lambda: Customer.objects.filter(merged_into__isnull=False).count(),
    )
    assert_write_matrix(
        "DELETE",
        lambda role: f"/api/v1/customers/{make_customer().pk}",
        None,
        "customers",
        lambda: Customer.objects.count(),
    )


def test_custom_field_definitions_are_admin_settings():
    assert_write_matrix(
        "POST",
        "/api/v1/customers/custom-fields",
        lambda role: {"key": f"f_{role}", "label": role, "field_type": "text"},
        "settings",
        lambda: CustomFieldDefinition.objects.count(),
    )
    for role in ("readonly", "marketing"):
        CustomFieldDefinition.objects.get_or_create(key=f"del_{role}", label="x", field_type="text")
    assert_write_matrix(
        "DELETE",
        lambda role: f"/api/v1/customers/custom-fields/f_{role}",
        None,
        "settings",
        lambda: CustomFieldDefinition.objects.count(),
    )


def test_order_api_writes():
    customer = make_customer()
    body = {"customer_id": customer.pk, "lines": [{"title": "x", "quantity": 1, "unit_price": "10"}]}
    assert_write_matrix("POST", "/api/v1/orders/", body, "orders", lambda: Order.objects.count())
    assert_write_matrix(
        "POST",
        lambda role: f"/api/v1/orders/{make_order(customer).pk}/status",
        {"status": "paid"},
        "orders",
        lambda: OrderStatusChange.objects.count(),
    )

    def fresh_line(role):
        order = make_order(customer)
        return f"/api/v1/orders/{order.pk}/returns", order.lines.get().pk

    paths = {}

    def return_path(role):
        paths[role] = fresh_line(role)
        return paths[role][0]

    assert_write_matrix(
        "POST",
        return_path,
        lambda role: {"lines": [{"order_line_id": paths[role][1], "quantity": 1}], "reason": "size"},
        "orders",
        lambda: Return.objects.count(),
    )
    assert_write_matrix(
        "POST",
        lambda role: f"/api/v1/orders/{make_order(customer).pk}/refunds",
        {"amount": "5"},
        "orders",
        lambda: Refund.objects.count(),
    )


def test_catalog_api_writes():
    assert_write_matrix(
        "POST",
        "/api/v1/catalog/products",
        lambda role: {"title": role, "variants": [{"sku": f"SKU-{role}", "price": "10"}]},
        "catalog",
        lambda: Product.objects.count(),
    )
    assert_write_matrix(
        "POST",
        "/api/v1/catalog/categories",
        lambda role: {"name": f"Kategori {role}"},
        "catalog",
        lambda: Category.objects.count(),
    )
    assert_write_matrix(
        "POST",
        "/api/v1/catalog/variants/SKU-admin/stock",
        {"delta": 2},
        "catalog",
        lambda: StockMovement.objects.count(),
    )


def test_reads_need_read_access():
    customer = make_customer()
    assert_read_matrix("/api/v1/customers/", "customers")
    assert_read_matrix(f"/api/v1/customers/{customer.pk}", "customers")
    assert_read_matrix(f"/api/v1/customers/{customer.pk}/timeline", "customers")
    assert_read_matrix("/api/v1/customers/export", "exports")
    assert_read_matrix("/api/v1/orders/", "orders")


def test_pages_and_forms():
    customer = make_customer()
    assert_page_matrix("/customers/", "customers")
    assert_page_matrix(f"/customers/{customer.pk}/", "customers")
    assert_page_matrix("/customers/new/", "customers", "write")
    assert_page_matrix("/customers/export.csv", "exports")
    assert_form_matrix(
        f"/customers/{customer.pk}/notes/", {"body": "hello"}, "customers", lambda: CustomerNote.objects.count()
    )
    assert_form_matrix(
        f"/customers/{customer.pk}/consent/",
        {"channel": "email", "status": "granted"},
        "customers",
        lambda: ConsentRecord.objects.count(),
    )
    assert_form_matrix(
        "/customers/new/",
        lambda role: {"first_name": role, "time_zone": "Europe/Istanbul"},
        "customers",
        lambda: Customer.objects.count(),
    )
