"""The API's error shape for authentication: an unauthenticated request is 401 {"detail", "code"} whatever its
method; CSRF is asked only of a logged-in browser session, and its refusal says so in the same shape."""

import pytest
from django.test import Client

from kervan.accounts.permissions import Role
from kervan.accounts.testing import make_role_user
from kervan.customers.models import Customer

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_an_unauthenticated_request_is_401_in_the_api_shape(method):
    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)("/api/v1/customers/", {}, content_type="application/json")
    assert response.status_code in (401, 405), response.content
    if response.status_code == 401:
        assert response.json() == {
            "detail": "Authentication required: send a valid API key or log in.",
            "code": "not_authenticated",
        }


def test_an_unauthenticated_post_is_401_not_a_csrf_refusal():
    response = Client(enforce_csrf_checks=True).post(
        "/api/v1/customers/", {"email": "x@example.com"}, content_type="application/json"
    )
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    assert Customer.objects.count() == 0


def test_a_wrong_api_key_is_401_too():
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION="Bearer kv_nope_nothing")
    response = client.post("/api/v1/customers/", {"email": "x@example.com"}, content_type="application/json")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_a_logged_in_browser_without_the_csrf_token_is_refused_in_the_api_shape():
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_role_user(Role.ADMIN))
    response = client.post("/api/v1/customers/", {"email": "x@example.com"}, content_type="application/json")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "csrf_failed" and "X-CSRFToken" in body["detail"]
    assert Customer.objects.count() == 0


def test_a_logged_in_browser_with_the_token_is_served():
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_role_user(Role.ADMIN))
    client.get("/customers/")  # sets the csrftoken cookie, as any page does
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/api/v1/customers/", {"email": "x@example.com"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 201, response.content


def test_the_api_key_rate_limit_keeps_its_own_words(make_api_key, settings):
    from django.core.cache import cache

    cache.clear()
    settings.KERVAN_API_RATE_LIMIT = 1
    _key, secret = make_api_key({"customers": "read"})
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    client.get("/api/v1/customers/")
    response = client.get("/api/v1/customers/")
    assert response.status_code == 429 and response.json()["code"] == "rate_limited"
    assert "API key" in response.json()["detail"] and int(response["Retry-After"]) >= 1
    cache.clear()
