import pytest
from django.urls import reverse

from kervan.accounts.permissions import Role, role_access
from kervan.accounts.testing import assert_page_matrix, role_client
from kervan.customers.models import Customer
from kervan.imports.models import ImportJob, ImportStatus

from .conftest import csv_file, worker_running

pytestmark = pytest.mark.django_db

ROWS = [
    ["Ad", "Soyad", "E-posta", "Telefon"],
    ["Ayşe", "Yılmaz", "ayse@example.com", "0532 123 45 67"],
    ["Ali", "Can", "ali@", ""],
]


def test_upload_map_run_and_read_the_report(admin_client, django_capture_on_commit_callbacks):
    page = admin_client.get(reverse("imports:list"))
    assert page.status_code == 200 and b'type="file"' in page.content
    response = admin_client.post(reverse("imports:list"), {"kind": "customers", "file": csv_file(ROWS)})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("imports:mapping", args=[job.pk])
    mapping = admin_client.get(response.url)
    html = mapping.content.decode()
    assert '<option value="email" selected>' in html and "ayse@example.com" in html  # guessed, with samples
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            response.url, {"map_0": "first_name", "map_1": "", "map_2": "email", "map_3": "phone", "mode": "skip"}
        )
    assert response.status_code == 302 and response.url == reverse("imports:detail", args=[job.pk])
    job.refresh_from_db()
    assert job.mapping == {"Ad": "first_name", "E-posta": "email", "Telefon": "phone"}
    assert job.status == ImportStatus.DONE and (job.imported, job.skipped) == (1, 1)
    assert Customer.objects.get().last_name == ""  # Soyad was left out of the mapping
    detail = admin_client.get(response.url).content.decode()
    assert "hx-trigger" not in detail and "ali@" in detail and reverse("imports:report", args=[job.pk]) in detail
    report = admin_client.get(reverse("imports:report", args=[job.pk]))
    text = b"".join(report.streaming_content).decode("utf-8-sig")
    assert text.splitlines() == [
        "Row,Column,Value,Problem,Code",
        "3,E-posta,ali@,'ali@' is not a valid email address.,invalid_email",
    ]


def test_mapping_page_refuses_a_mapping_without_email_or_phone(admin_client):
    admin_client.post(reverse("imports:list"), {"kind": "customers", "file": csv_file(ROWS)})
    job = ImportJob.objects.get()
    response = admin_client.post(reverse("imports:mapping", args=[job.pk]), {"map_0": "first_name", "mode": "skip"})
    assert response.status_code == 400
    assert "Map a column to each of these fields: Email, Phone or Customer id (in the store)." in (
        response.content.decode()
    )
    job.refresh_from_db()
    assert job.status == ImportStatus.DRAFT


def test_upload_page_shows_bad_files(admin_client):
    response = admin_client.post(reverse("imports:list"), {"kind": "customers", "file": csv_file([[""]])})
    assert response.status_code == 400 and ImportJob.objects.count() == 0


def test_progress_partial_polls_until_done(admin_client, admin_user):
    job = ImportJob.objects.create(
        kind="customers",
        token="t1",
        file_name="big.csv",
        file_format="csv",
        status=ImportStatus.CHECKING,
        total_rows=200,
        processed_rows=50,
        created_by=admin_user,
    )
    with worker_running(job):
        html = admin_client.get(reverse("imports:progress", args=[job.pk])).content.decode()
        assert 'hx-trigger="every 1s"' in html and '<progress max="100" value="25"' in html
        assert "50 of about 200" in html
        job.status, job.processed_rows = ImportStatus.SAVING, 200
        job.save()
        html = admin_client.get(reverse("imports:progress", args=[job.pk])).content.decode()
        assert 'hx-trigger="every 1s"' in html and "writing them now" in html
    job.status, job.imported = ImportStatus.DONE, 200
    job.save()
    html = admin_client.get(reverse("imports:progress", args=[job.pk])).content.decode()
    assert "hx-trigger" not in html and "Import finished" in html


def test_pages_by_role():
    assert_page_matrix(reverse("imports:list"), "imports", "write")


@pytest.mark.parametrize("role", Role.values)
def test_upload_by_role_and_refusals_change_nothing(role, django_capture_on_commit_callbacks):
    client = role_client(role)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("imports:list"), {"kind": "customers", "file": csv_file(ROWS)})
    if role_access(role)["imports"] == "write" and role_access(role)["customers"] == "write":
        assert response.status_code == 302
        assert ImportJob.objects.count() == 1
    else:
        assert response.status_code == 403
        assert ImportJob.objects.count() == 0 and Customer.objects.count() == 0


def test_marketing_may_import_customers_but_not_orders(django_capture_on_commit_callbacks):
    client = role_client(Role.MARKETING)
    order_rows = [
        ["Sipariş No", "Tarih", "E-posta", "Ürün", "Adet", "Fiyat"],
        ["1", "2024-01-01", "a@b.co", "x", "1", "1"],
    ]
    response = client.post("/api/v1/imports/", {"kind": "orders", "file": csv_file(order_rows)})
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    response = client.post(reverse("imports:list"), {"kind": "orders", "file": csv_file(order_rows)})
    assert response.status_code == 403 and ImportJob.objects.count() == 0


def test_order_file_settings_and_status_mapping_on_the_mapping_page(admin_client, django_capture_on_commit_callbacks):
    """The statuses the file writes are listed with suggestions, a choice replaces one, the file's currency and time
    zone are set beside the columns; an unmapped status is refused on the page, nothing written."""
    from kervan.core.models import Source
    from kervan.imports.models import ImportProfile
    from kervan.orders.models import Order

    rows = [
        ["order_id", "customer_id", "order_date", "status", "product_name", "price"],
        ["o1", "c1", "2011-01-05 08:26", "approved", "Lamba", "10.00"],
        ["o2", "c2", "2011-01-06 09:00", "by pigeon", "Vazo", "20.00"],
    ]
    response = admin_client.post(
        reverse("imports:list"), {"kind": "orders", "file": csv_file(rows), "new_source": "UK shop"}
    )
    job = ImportJob.objects.get()
    assert job.source.name == "UK shop"
    html = admin_client.get(response.url).content.decode()
    assert 'name="status_value_0" value="approved"' in html and 'name="status_value_1" value="by pigeon"' in html
    assert '<option value="paid" selected>' in html  # approved → paid, suggested
    form = {"map_0": "order_number", "map_1": "customer_id", "map_2": "placed_at", "map_3": "status",
            "map_4": "title", "map_5": "unit_price", "mode": "skip", "currency": "GBP", "time_zone": "Europe/London",
            "date_order": "dmy", "decimal": "auto", "default_status": "delivered", "cancel_prefix": "",
            "guest_ids": "", "phone_region": "", "status_value_0": "approved", "status_0": "paid",
            "status_value_1": "by pigeon", "status_1": ""}  # fmt: skip
    refused = admin_client.post(response.url, form)
    assert refused.status_code == 400 and "&#x27;by pigeon&#x27;" in refused.content.decode()
    assert Order.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post(response.url, {**form, "status_1": "shipped"})
    assert done.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.failure
    assert dict(Order.objects.values_list("number", "status")) == {"o1": "paid", "o2": "shipped"}
    assert set(Order.objects.values_list("currency", flat=True)) == {"GBP"}
    saved = ImportProfile.objects.get(source=Source.objects.get(name="UK shop"))
    assert saved.options["statuses"]["by pigeon"] == "shipped" and saved.options["currency"] == "GBP"
    detail = admin_client.get(response.url.replace("mapping/", "")).content.decode()
    assert 'id="import-summary"' in detail
