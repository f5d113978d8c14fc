import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from kervan.customers.models import Customer
from kervan.imports.models import ImportJob

from .conftest import csv_file

pytestmark = pytest.mark.django_db

HEADER = ["Ad", "E-posta", "Telefon"]


@pytest.fixture
def client_for(make_api_key):
    def make(scopes=None):
        _, secret = make_api_key(scopes=scopes)
        return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    return make


def post(client, upload, capture, **fields):
    with capture(execute=True):
        return client.post("/api/v1/imports/", {"file": upload, **fields})


def test_upload_answers_202_and_the_job_can_be_followed(client_for, django_capture_on_commit_callbacks):
    client = client_for()
    rows = [
        HEADER,
        ["Ayşe", "ayse@example.com", ""],
        ["Bad", "nope", ""],
        *[[f"K{i}", f"k{i}@example.com", ""] for i in range(5)],
    ]
    response = post(client, csv_file(rows), django_capture_on_commit_callbacks, kind="customers")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["kind"] == "customers" and body["mapping"] == {
        "Ad": "first_name",
        "E-posta": "email",
        "Telefon": "phone",
    }
    detail = client.get(f"/api/v1/imports/{body['id']}").json()
    assert detail["status"] == "done"
    assert detail["counts"] == {"imported": 6, "updated": 0, "unchanged": 0, "skipped": 1, "errors": 1}
    assert detail["progress"] == {"processed": 7, "total": 7, "percent": 100}
    errors = client.get(f"/api/v1/imports/{body['id']}/errors").json()
    assert errors["items"] == [
        {
            "row": 3,
            "column": "E-posta",
            "value": "nope",
            "reason": "'nope' is not a valid email address.",
            "code": "invalid_email",
        }
    ]
    assert errors["next_cursor"] is None


def test_errors_are_cursor_paginated(client_for, django_capture_on_commit_callbacks):
    client = client_for()
    rows = [HEADER, *[[f"K{i}", f"bad{i}", ""] for i in range(5)]]
    job_id = post(client, csv_file(rows), django_capture_on_commit_callbacks, kind="customers", mode="refuse").json()[
        "id"
    ]
    first = client.get(f"/api/v1/imports/{job_id}/errors", {"limit": 2}).json()
    assert [e["row"] for e in first["items"]] == [2, 3] and first["next_cursor"]
    second = client.get(f"/api/v1/imports/{job_id}/errors", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [e["row"] for e in second["items"]] == [4, 5]
    assert client.get(f"/api/v1/imports/{job_id}").json()["status"] == "refused"


def test_explicit_mapping(client_for, django_capture_on_commit_callbacks):
    client = client_for()
    rows = [["Müşteri", "Mail"], ["Ayşe Nur Yılmaz", "ayse@example.com"]]
    mapping = json.dumps({"Müşteri": "full_name", "Mail": "email"})
    response = post(client, csv_file(rows), django_capture_on_commit_callbacks, kind="customers", mapping=mapping)
    assert response.status_code == 202
    ayse = Customer.objects.get()
    assert (ayse.first_name, ayse.last_name) == ("Ayşe Nur", "Yılmaz")


@pytest.mark.parametrize(
    "fields,upload,status,code",
    [
        ({"kind": "invoices"}, "csv", 400, "invalid_kind"),
        ({"kind": "customers"}, "empty", 400, "empty_file"),
        ({"kind": "customers"}, "header_only", 400, "empty_file"),
        ({"kind": "customers"}, "broken_xlsx", 400, "unreadable_file"),
        ({"kind": "customers", "mapping": '{"E-posta": "colour"}'}, "csv", 400, "unknown_field"),
        ({"kind": "customers", "mapping": '{"Ad": "first_name"}'}, "csv", 400, "missing_required_field"),
        ({"kind": "customers", "mapping": '{"Yok": "email"}'}, "csv", 400, "unknown_column"),
        ({"kind": "customers", "mapping": "{not json"}, "csv", 400, "invalid_mapping"),
        ({"kind": "customers", "mode": "maybe"}, "csv", 400, "invalid_mode"),
        ({"kind": "orders"}, "csv", 400, "missing_required_field"),
        ({"kind": "customers"}, None, 422, "validation_error"),
    ],
)
def test_bad_input_is_refused_and_leaves_nothing(
    client_for, django_capture_on_commit_callbacks, media, fields, upload, status, code
):
    files = {
        "csv": csv_file([HEADER, ["Ayşe", "ayse@example.com", ""]]),
        "empty": SimpleUploadedFile("empty.csv", b""),
        "header_only": csv_file([HEADER]),
        "broken_xlsx": SimpleUploadedFile("broken.xlsx", b"PK\x03\x04 this is not a workbook"),
    }
    data = dict(fields)
    if upload:
        data["file"] = files[upload]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for().post("/api/v1/imports/", data)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["detail"]
    assert ImportJob.objects.count() == 0 and Customer.objects.count() == 0
    assert not any(p.is_file() for p in media.rglob("*")) if media.exists() else True


def test_scopes_are_checked_and_a_refusal_changes_nothing(client_for, django_capture_on_commit_callbacks):
    rows = [HEADER, ["Ayşe", "ayse@example.com", ""]]
    no_imports = client_for({"customers": "write", "imports": "read"})
    response = post(no_imports, csv_file(rows), django_capture_on_commit_callbacks, kind="customers")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    # import access alone does not let a key write customers
    imports_only = client_for({"imports": "write", "customers": "read"})
    response = post(imports_only, csv_file(rows), django_capture_on_commit_callbacks, kind="customers")
    assert response.status_code == 403
    assert ImportJob.objects.count() == 0 and Customer.objects.count() == 0
    assert no_imports.get("/api/v1/imports/").status_code == 200  # read access lists jobs
    assert client_for({"customers": "write"}).get("/api/v1/imports/").status_code == 403


def test_unknown_job_is_404(client_for):
    response = client_for().get("/api/v1/imports/424242")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_fields_endpoint(client_for):
    names = [f["name"] for f in client_for().get("/api/v1/imports/fields", {"kind": "products"}).json()]
    assert names[:3] == ["sku", "title", "variant_title"]
    assert client_for().get("/api/v1/imports/fields", {"kind": "x"}).json()["code"] == "invalid_kind"


def test_an_order_history_with_its_store_settings_and_statuses(client_for, django_capture_on_commit_callbacks):
    client = client_for()
    rows = [
        ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"],
        ["536365", "85123A", "HEART", "6", "12/1/2010 8:26", "2.55", "17850", "United Kingdom"],
        ["C536379", "85123A", "HEART", "-1", "12/2/2010 9:00", "2.55", "17850", "United Kingdom"],
    ]
    settings = json.dumps({"currency": "GBP", "time_zone": "Europe/London"})
    refused = post(
        client, csv_file(rows), django_capture_on_commit_callbacks, kind="orders", settings='{"currency": "ZZZ"}'
    )
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_currency"
    assert ImportJob.objects.count() == 0
    response = post(
        client, csv_file(rows), django_capture_on_commit_callbacks, kind="orders", settings=settings, source="UK shop"
    )
    assert response.status_code == 202, response.content
    body = client.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert (body["source"], body["preset"], body["status"]) == ("uk-shop", "uci_online_retail", "done")
    assert body["settings"]["currency"] == "GBP" and body["settings"]["cancel_prefix"] == "C"
    assert {k: body["summary"][k] for k in ("orders", "returns", "refunds", "customers_created")} == {
        "orders": 1,
        "returns": 1,
        "refunds": 1,
        "customers_created": 1,
    }
    presets = client.get("/api/v1/imports/presets").json()
    assert {"shopify_orders", "woocommerce_orders", "uci_online_retail", "trendyol_orders"} <= {
        p["key"] for p in presets
    }
