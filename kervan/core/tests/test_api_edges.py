"""Requests a schema-driven fuzzer rarely sends: broken JSON, wrong content types, bodies over the size limit,
ids beyond 64 bits, unknown query parameters. Each gets a 4xx with the one error shape, never a 500."""

import json

import pytest

from kervan.customers.models import Customer
from kervan.customers.tests.factories import make_customer, make_order

BIG = "99999999999999999999999"
MAX = str(2**63 - 1)


def assert_error(response, status: int | None = None, code: str | None = None) -> dict:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"] and isinstance(body["code"], str), body
    if status is not None:
        assert response.status_code == status, body
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.mark.parametrize(
    "path",
    [
        f"/customers/{BIG}",
        f"/customers/{MAX}",
        f"/customers/-{BIG}",
        f"/customers/{BIG}/timeline",
        f"/customers/{BIG}/consents",
        f"/customers/{BIG}/duplicates",
        f"/orders/{BIG}",
        f"/catalog/products/{BIG}",
        f"/accounts/users/{BIG}",
        f"/accounts/api-keys/{BIG}",
        f"/imports/{BIG}",
        f"/imports/{BIG}/errors",
        f"/orders/?customer_id={BIG}",
        f"/events/?customer_id={BIG}",
        f"/catalog/products?category_id={BIG}",
        f"/accounts/audit-log?customer_id={BIG}",
        f"/accounts/audit-log?actor_user={BIG}",
        f"/customers/?limit={BIG}",
        f"/customers/?min_spent={BIG}{BIG}",
        "/customers/?min_spent=NaN",
        "/customers/?min_spent=Infinity",
        "/customers/?q=%00",
        "/orders/?status=%00",
        "/orders/?since=2026-01-01T00:00:00-18:51",
        "/orders/?since=9999-12-31T23:59:59-05:00",
        "/orders/?until=0001-01-01T00:00:00%2B05:00",
        "/events/?since=2026-01-01T00:00:00-18:51",
        "/events/?until=0001-01-01T00:00:00",
    ],
)
def test_out_of_range_ids_and_values_are_refused_not_500(api, path):
    response = api.get(path)
    if response.status_code != 200:
        assert_error(response)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", f"/customers/{BIG}", {"first_name": "A"}),
        ("delete", f"/customers/{BIG}", None),
        ("post", f"/customers/{BIG}/notes", {"body": "x"}),
        ("post", f"/customers/{BIG}/identities", {"kind": "email", "value": "a@example.com"}),
        ("post", f"/customers/{BIG}/consents", {"channel": "email", "status": "granted"}),
        ("post", f"/customers/{BIG}/merge", {"merged_id": 1}),
        ("post", f"/orders/{BIG}/status", {"status": "cancelled"}),
        ("post", f"/orders/{BIG}/returns", {"lines": [{"order_line_id": 1, "quantity": 1}], "reason": "other"}),
        ("post", f"/orders/{BIG}/refunds", {"amount": "1.00"}),
        ("post", f"/accounts/users/{BIG}/reset-two-factor", {}),
        ("post", f"/accounts/api-keys/{BIG}/revoke", {}),
    ],
)
def test_writes_to_ids_beyond_64_bits_are_404(api, method, path, body):
    response = api.delete(path) if method == "delete" else getattr(api, method)(path, body)
    assert_error(response, 404)


def test_ids_beyond_64_bits_in_bodies_are_refused(api):
    customer = make_customer()
    order = make_order(customer)
    for path, body in [
        ("/orders/", {"customer_id": int(BIG), "lines": [{"title": "x", "quantity": 1, "unit_price": "1"}]}),
        (f"/customers/{customer.pk}/merge", {"merged_id": int(BIG)}),
        (f"/orders/{order.pk}/returns", {"lines": [{"order_line_id": int(BIG), "quantity": 1}]}),
        ("/catalog/products", {"title": "x", "category_id": int(BIG), "variants": [{"sku": "A", "price": "1"}]}),
        ("/events/track", {"name": "x", "customer_id": int(BIG)}),
    ]:
        assert_error(api.post(path, body))


@pytest.mark.parametrize(
    "raw",
    [b"{", b"{'a': 1}", b"[1, 2", b"\xff\xfe", b"null", b"[]", b'"text"', b"1e999999", b'{"first_name": "\\ud800"}'],
)
def test_malformed_json_is_a_4xx(api, raw):
    assert_error(api.post("/customers/", raw=raw))
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "application/xml", "", "garbage"],
)
@pytest.mark.parametrize("path", ["/customers/", "/imports/", "/events/track", "/orders/"])
def test_a_non_json_body_under_any_content_type_is_a_4xx(api, content_type, path):
    response = api.client.post("/api/v1" + path, b"first_name=A&last_name=B", content_type=content_type)
    assert_error(response)
    assert not Customer.objects.exists()


def test_a_json_body_is_read_whatever_content_type_it_declares(api):
    # Lenient on purpose (curl -d sends x-www-form-urlencoded). Not a CSRF hole: session-authenticated
    # API calls need the CSRF token whatever the content type; API keys are not sent by browsers.
    response = api.client.post("/api/v1/customers/", b'{"first_name": "A"}', content_type="text/plain")
    assert response.status_code == 201


def test_a_multipart_body_without_a_boundary_is_a_400(api):
    response = api.client.post("/api/v1/imports/", b"--x--", content_type="multipart/form-data")
    assert_error(response, 400, "malformed_request")


def test_a_body_over_the_upload_limit_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"first_name": "A", "notes": "x" * 2000}
    assert_error(api.post("/customers/", raw=json.dumps(body)), 413, "request_too_large")
    assert not Customer.objects.exists()


def test_unknown_query_parameters_are_ignored(api):
    make_customer()
    response = api.get("/customers/", {"nonsense": "1", "limit": "5", "x[]": "y"})
    assert response.status_code == 200
    assert len(response.json()["items"]) == 1


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unknown_api_paths_are_a_json_404_for_every_method(api, method):
    response = getattr(api.client, method)("/api/v1/no-such-thing/", "{}", content_type="application/json")
    assert_error(response, 404, "not_found")


def test_a_method_the_endpoint_lacks_is_a_json_405(api):
    response = api.client.put("/api/v1/customers/", "{}", content_type="application/json")
    assert_error(response, 405)


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/customers/", {"first_name": "A\u0000"}, "first_name"),
        ("/customers/", {"first_name": "A", "tags": ["vip", "x\u0000"]}, "tags.1"),
        ("/customers/", {"first_name": "A", "custom_fields": {"k\u0000": 1}}, "custom_fields.k"),
        ("/catalog/products", {"title": "Gömlek", "variants": [{"sku": "S\u0000", "price": "1"}]}, "variants.0.sku"),
        ("/accounts/api-keys", {"name": "\u0000", "scopes": {"customers": "read"}}, "name"),
    ],
)
def test_nul_characters_in_bodies_are_422_on_every_database(api, path, body, where):
    # PostgreSQL cannot store NUL in text or JSON; SQLite could, but both must give the same answer.
    body = assert_error(api.post(path, body), 422, "validation_error")
    assert body["detail"].startswith(where)
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/customers/?q=a%00",
        "/accounts/users?q=%00",
        "/orders/?status=%00",
        "/catalog/variants/%00/stock-history",
        "/customers/?%00=1",
    ],
)
def test_nul_characters_in_queries_and_paths_are_422(api, path):
    assert_error(api.get(path), 422, "validation_error")


def test_nul_in_a_custom_field_key_path_is_422(api):
    assert_error(api.delete("/customers/custom-fields/%00"), 422, "validation_error")


@pytest.mark.parametrize(
    "value",
    ["2026-01-01T00:00:00-18:51", "2026-01-01T00:00:00+16:00", "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00"],
)
def test_times_the_databases_cannot_store_are_422(api, value):
    customer = make_customer()
    line = {"title": "x", "quantity": 1, "unit_price": "1"}
    for response in [
        api.post("/orders/", {"customer_id": customer.pk, "lines": [line], "placed_at": value}),
        api.post(f"/customers/{customer.pk}/consents", {"channel": "email", "status": "granted", "occurred_at": value}),
        api.post("/events/track", {"customer_id": customer.pk, "event_id": "e", "name": "x", "occurred_at": value}),
        api.get("/orders/", {"since": value}),
        api.get("/events/", {"until": value}),
    ]:
        assert_error(response, 422, "validation_error")


def test_real_offsets_are_still_accepted(api):
    customer = make_customer()
    line = {"title": "x", "quantity": 1, "unit_price": "1"}
    for value in ["2026-03-01T12:00:00+14:00", "2026-03-01T12:00:00-12:00", "2026-03-01T12:00:00+03:00"]:
        response = api.post("/orders/", {"customer_id": customer.pk, "lines": [line], "placed_at": value})
        assert response.status_code == 201, response.json()
    assert api.get("/orders/", {"since": "2026-03-01T00:00:00+05:45"}).status_code == 200


def test_django_own_errors_under_api_get_the_error_shape_too(api):
    # A Host outside ALLOWED_HOSTS is refused by Django before any view, in HTML; under /api/ it is JSON.
    response = api.client.get("/api/v1/customers/", HTTP_HOST="evil.example")
    assert_error(response, 400, "malformed_request")
    response = api.client.options("/api/v1/customers/")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]
