"""Permission-matrix helpers for every app's tests (rule 5: test permissions as a matrix; a refusal changes nothing).

Use them inside a test that has database access (the `db` fixture or any fixture built on it)::

    from kervan.accounts.testing import assert_read_matrix, assert_write_matrix, role_client

    def test_customer_create_matrix(db):
        assert_write_matrix(
            "POST", "/api/v1/customers/", lambda role: {"email": f"{role}@example.com"},
            domain="customers", snapshot=lambda: Customer.objects.count(),
        )

    def test_customer_list_matrix(db):
        assert_read_matrix("/api/v1/customers/", domain="customers")

    def test_something_as_support(db):
        client = role_client("support")          # a logged-in django.test.Client, 2FA already passed

`payload` and `path` may be callables taking the role, so each role gets fresh values (a unique name, its own object to
change) and a success for one role does not turn into a conflict for the next. Requests are session-authenticated JSON
(CSRF is not enforced by the test client). Every helper returns {role: response} for further assertions.
"""

import json
import uuid
from collections.abc import Callable
from typing import Any

from django.test import Client

from kervan.accounts.models import User
from kervan.accounts.permissions import Role, allows, role_access
from kervan.accounts.two_factor import SESSION_VERIFIED

SUCCESS = (200, 201, 204)


def make_role_user(role: str, **extra) -> User:
    """A fresh active staff user with `role` and a unique username (no usable password unless `password` is given)."""
    username = extra.pop("username", None) or f"{role}-{uuid.uuid4().hex[:8]}"
    password = extra.pop("password", None)
    extra.setdefault("language", "en")  # tests read English text; Turkish is tested on its own
    return User.objects.create_user(username=username, password=password, role=role, **extra)


def login_client(user: User) -> Client:
    """A test client logged in as `user`, with the second factor already passed for this session."""
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    session = client.session
    session[SESSION_VERIFIED] = True
    session.save()
    return client


def role_client(role: str, **extra) -> Client:
    """A logged-in client for a fresh user of `role` (2FA not required). The user is `client.user`."""
    user = make_role_user(role, **extra)
    client = login_client(user)
    client.user = user
    return client


def _resolve(value, role):
    return value(role) if callable(value) else value


def send_json(client: Client, method: str, path: str, payload: Any = None):
    """Send `payload` as a JSON body (nothing when None) with any HTTP method."""
    if payload is None:
        return client.generic(method.upper(), path)
    return client.generic(method.upper(), path, json.dumps(payload), content_type="application/json")


def _assert_refused(response, role: str, method: str, path: str) -> None:
    assert response.status_code == 403, f"{role} {method} {path}: expected 403, got {response.status_code}"
    body = response.json()
    assert body.get("code") == "permission_denied", f"{role} {method} {path}: {body}"
    assert body.get("detail"), f"{role} {method} {path}: empty detail"


def assert_write_matrix(
    method: str,
    path: str | Callable[[str], str],
    payload: Any | Callable[[str], Any],
    domain: str,
    snapshot: Callable[[], Any],
    *,
    roles: list[str] | None = None,
) -> dict[str, Any]:
    """For every role: send the JSON request; a role with write access to `domain` gets 200/201/204, any other gets
    403 {"detail", "code": "permission_denied"} and `snapshot()` (a count, a tuple of field values…) is unchanged."""
    responses = {}
    for role in roles or Role.values:
        client = role_client(role)
        url, body = _resolve(path, role), _resolve(payload, role)
        before = snapshot()
        response = send_json(client, method, url, body)
        if role_access(role).get(domain) == "write":
            assert response.status_code in SUCCESS, (
                f"{role} {method} {url}: expected success, got {response.status_code} {response.content[:300]!r}"
            )
        else:
            _assert_refused(response, role, method, url)
            assert snapshot() == before, f"{role} {method} {url}: refused, but the data changed"
        responses[role] = response
    return responses


def assert_read_matrix(
    path: str | Callable[[str], str], domain: str, access: str = "read", *, roles: list[str] | None = None
) -> dict:
    """For every role: GET `path` (JSON API); 200 when the role has `access` ("read", or "write" for reads that are
    kept to writers) to `domain`, else 403 permission_denied."""
    responses = {}
    for role in roles or Role.values:
        url = _resolve(path, role)
        response = role_client(role).get(url)
        if allows(role_access(role).get(domain), access):
            assert response.status_code == 200, f"{role} GET {url}: expected 200, got {response.status_code}"
        else:
            _assert_refused(response, role, "GET", url)
        responses[role] = response
    return responses


def assert_page_matrix(
    path: str | Callable[[str], str], domain: str, access: str = "read", *, roles: list[str] | None = None
) -> dict:
    """For every role: GET a web page; 200 when the role has `access` to `domain`, else the 403 page."""
    responses = {}
    for role in roles or Role.values:
        url = _resolve(path, role)
        response = role_client(role).get(url)
        expected = 200 if allows(role_access(role).get(domain), access) else 403
        assert response.status_code == expected, f"{role} GET {url}: expected {expected}, got {response.status_code}"
        responses[role] = response
    return responses


def assert_form_matrix(
    path: str | Callable[[str], str],
    data: dict | Callable[[str], dict],
    domain: str,
    snapshot: Callable[[], Any],
    *,
    roles: list[str] | None = None,
) -> dict:
    """For every role: POST a web form; a role with write access gets a success or redirect (< 400), any other gets
    the 403 page and `snapshot()` is unchanged."""
    responses = {}
    for role in roles or Role.values:
        url, body = _resolve(path, role), _resolve(data, role)
        client = role_client(role)
        before = snapshot()
        response = client.post(url, body)
        if role_access(role).get(domain) == "write":
            assert response.status_code < 400, f"{role} POST {url}: expected success, got {response.status_code}"
        else:
            assert response.status_code == 403, f"{role} POST {url}: expected 403, got {response.status_code}"
            assert snapshot() == before, f"{role} POST {url}: refused, but the data changed"
        responses[role] = response
    return responses
