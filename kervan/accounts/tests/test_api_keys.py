import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

from kervan.accounts import actions
from kervan.accounts.actors import Actor
from kervan.accounts.models import ApiKey
from kervan.accounts.permissions import Role
from kervan.accounts.testing import assert_form_matrix, assert_page_matrix, assert_write_matrix, make_role_user
from kervan.core.models import AuditLog

KEYS = "/api/v1/accounts/api-keys"


def bearer(secret: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def keys_state():
    return sorted(ApiKey.objects.values_list("name", "revoked_at"))


def test_create_shows_the_key_once_and_stores_only_its_hash(api):
    response = api.post("/accounts/api-keys", {"name": "ERP", "scopes": {"customers": "read", "orders": "write"}})
    assert response.status_code == 201, response.content
    data = response.json()
    secret = data["key"]
    assert secret.startswith(f"kv_{data['prefix']}_") and data["scopes"] == {"customers": "read", "orders": "write"}

    key = ApiKey.objects.get(pk=data["id"])
    stored = [str(v) for v in ApiKey.objects.filter(pk=key.pk).values().get().values()]
    secret_part = secret.split("_", 2)[2]  # the secret itself may contain "_"
    assert not any(secret_part in value for value in stored)
    assert key.key_hash == ApiKey.hash_secret(secret)
    assert secret_part not in str(list(AuditLog.objects.values_list("changes", flat=True)))

    # The listing and the detail never carry the key again.
    listed = api.get("/accounts/api-keys").json()
    assert all("key" not in k for k in listed) and secret not in str(listed)
    assert "key" not in api.get(f"/accounts/api-keys/{key.pk}").json()


def test_a_key_authenticates_and_records_its_last_use(make_api_key):
    key, secret = make_api_key({"settings": "read"})
    assert key.last_used_at is None
    response = bearer(secret).get("/api/v1/accounts/me")
    assert response.status_code == 200
    assert response.json() == {"user": None, "api_key_id": key.pk, "scopes": {"settings": "read"}}
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_wrong_or_malformed_keys_get_401(make_api_key):
    key, secret = make_api_key()
    for token in (secret[:-2] + "xx", f"kv_{key.prefix}", "nonsense", f"kv_deadbeef_{secret.rsplit('_', 1)[1]}"):
        response = bearer(token).get("/api/v1/accounts/me")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated" and response.json()["detail"]


def test_scopes_are_enforced(make_api_key, db):
    _, secret = make_api_key({"customers": "read", "settings": "read"})
    client = bearer(secret)
    before = keys_state()
    refused = client.post(KEYS, {"name": "x", "scopes": {"customers": "read"}}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert keys_state() == before
    assert client.get("/api/v1/accounts/audit-log").status_code == 403
    actor = Actor.for_api_key(ApiKey.objects.get(name="test key"))
    assert actor.can("customers", "read") and not actor.can("customers", "write")


def test_a_customers_read_key_may_read_customers_but_not_write_them(make_api_key):
    from kervan.customers.models import Customer

    _, reader = make_api_key({"customers": "read"}, name="reader")
    _, writer = make_api_key({"customers": "write"}, name="writer")
    payload = {"first_name": "Ece", "email": "ece@example.com"}
    assert bearer(reader).get("/api/v1/customers/").status_code == 200
    refused = bearer(reader).post("/api/v1/customers/", payload, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert not Customer.objects.exists()
    allowed = bearer(writer).post("/api/v1/customers/", payload, content_type="application/json")
    assert allowed.status_code == 201 and Customer.objects.count() == 1


def test_a_key_cannot_create_a_key_with_more_access_than_itself(make_api_key):
    _, secret = make_api_key({"settings": "write", "customers": "read"})
    client = bearer(secret)
    before = keys_state()
    response = client.post(KEYS, {"name": "x", "scopes": {"customers": "write"}}, content_type="application/json")
    assert response.status_code == 403 and keys_state() == before
    ok = client.post(KEYS, {"name": "y", "scopes": {"customers": "read"}}, content_type="application/json")
    assert ok.status_code == 201


@override_settings(KERVAN_API_RATE_LIMIT=3)
def test_rate_limit_answers_429_with_retry_after(make_api_key):
    cache.clear()
    _, secret = make_api_key({"settings": "read"})
    client = bearer(secret)
    statuses = [client.get("/api/v1/accounts/me").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = client.get("/api/v1/accounts/me")
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited" and limited.json()["detail"]
    assert 1 <= int(limited["Retry-After"]) <= 60
    # Another key has its own budget.
    _, other = make_api_key({"settings": "read"}, name="other")
    assert bearer(other).get("/api/v1/accounts/me").status_code == 200


def test_revoked_key_gets_401(api, make_api_key):
    key, secret = make_api_key({"settings": "read"}, name="old")
    assert bearer(secret).get("/api/v1/accounts/me").status_code == 200
    response = api.post(f"/accounts/api-keys/{key.pk}/revoke")
    assert response.status_code == 200 and response.json()["revoked_at"] and not response.json()["is_active"]
    refused = bearer(secret).get("/api/v1/accounts/me")
    assert refused.status_code == 401 and set(refused.json()) >= {"detail", "code"}
    assert AuditLog.objects.filter(object_type="accounts.apikey", object_id=str(key.pk), action="update").exists()
    # Revoking again changes nothing.
    revoked_at = ApiKey.objects.get(pk=key.pk).revoked_at
    assert api.post(f"/accounts/api-keys/{key.pk}/revoke").status_code == 200
    assert ApiKey.objects.get(pk=key.pk).revoked_at == revoked_at
    assert api.post("/accounts/api-keys/999999/revoke").status_code == 404


def test_a_key_read_just_before_its_revoke_is_not_served_from_the_cache(make_api_key, admin_actor):
    from kervan.accounts.actions import api_key_revoke

    key, secret = make_api_key({"settings": "read"}, name="racing")

    def read_then_revoke():  # a request reads the key, the revoke commits, then the request caches what it read
        stale = ApiKey.objects.filter(prefix=key.prefix, revoked_at__isnull=True).first()
        api_key_revoke(actor=admin_actor, api_key=ApiKey.objects.get(pk=key.pk))
        return stale

    assert ApiKey.cached.get(key.prefix, "key", read_then_revoke) is not None
    assert bearer(secret).get("/api/v1/accounts/me").status_code == 401


def test_a_busy_key_records_its_use_without_writing_on_every_call(make_api_key, django_assert_max_num_queries):
    key, secret = make_api_key({"settings": "read"}, name="busy")
    client = bearer(secret)
    assert client.get("/api/v1/accounts/me").status_code == 200  # records the use, which reloads the cached key
    assert ApiKey.objects.get(pk=key.pk).last_used_at is not None
    assert client.get("/api/v1/accounts/me").status_code == 200
    with django_assert_max_num_queries(0):  # neither the key lookup nor last_used_at: both come from the cache
        assert client.get("/api/v1/accounts/me").status_code == 200


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"name": "x", "scopes": {"planets": "read"}}, 400, "invalid_scope"),
        ({"name": "x", "scopes": {"customers": "admin"}}, 400, "invalid_scope"),
        ({"name": "x", "scopes": {"customers": "none"}}, 400, "empty_scopes"),
        ({"name": "x", "scopes": {}}, 400, "empty_scopes"),
        ({"name": "  ", "scopes": {"customers": "read"}}, 400, "required"),
        ({"name": "x" * 101, "scopes": {"customers": "read"}}, 400, "invalid_name"),
        ({"name": "x", "scopes": {"customers": "read"}, "secret": "mine"}, 422, "validation_error"),
        ({"name": "x"}, 422, "validation_error"),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(api, payload, status, code):
    before = ApiKey.objects.count()
    response = api.post("/accounts/api-keys", payload)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert ApiKey.objects.count() == before


def test_api_key_matrix(db):
    assert_write_matrix(
        "POST", KEYS, lambda role: {"name": f"key {role}", "scopes": {"customers": "read"}}, "settings", keys_state
    )
    owner = make_role_user(Role.ADMIN)

    def revoke_path(role):
        actor = Actor.for_user(owner)
        key, _ = actions.api_key_create(actor=actor, name=f"to revoke {role}", scopes={"events": "write"})
        return f"{KEYS}/{key.pk}/revoke"

    assert_write_matrix("POST", revoke_path, None, "settings", keys_state)


# --- web pages -----------------------------------------------------------------------------------------------


def test_key_page_creates_shows_once_and_revokes(admin_client):
    assert admin_client.get(reverse("accounts:api_keys")).status_code == 200
    data = {"name": "Shop sync", "scope_customers": "write", "scope_orders": "read", "scope_audit": "none"}
    response = admin_client.post(reverse("accounts:api_keys"), data)
    assert response.status_code == 200
    key = ApiKey.objects.get(name="Shop sync")
    assert key.scopes == {"customers": "write", "orders": "read"}
    html = response.content.decode()
    secret = html.split('<pre id="new-api-key">', 1)[1].split("</pre>", 1)[0]
    assert ApiKey.hash_secret(secret) == key.key_hash
    assert response["Cache-Control"] == "no-store"

    again = admin_client.get(reverse("accounts:api_keys")).content.decode()
    assert "Shop sync" in again and secret not in again and key.prefix in again

    admin_client.post(reverse("accounts:api_key_revoke", args=[key.pk]))
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert bearer(secret).get("/api/v1/accounts/me").status_code == 401


def test_key_page_keeps_input_on_error(admin_client):
    response = admin_client.post(reverse("accounts:api_keys"), {"name": "", "scope_customers": "read"})
    assert response.status_code == 400 and not ApiKey.objects.exists()


def test_key_pages_matrix(db):
    assert_page_matrix(reverse("accounts:api_keys"), "settings", "write")
    assert_form_matrix(
        reverse("accounts:api_keys"), lambda role: {"name": f"k {role}", "scope_events": "read"}, "settings", keys_state
    )
