import pytest
from django.test import Client
from django.urls import reverse

from kervan.accounts.models import User
from kervan.accounts.permissions import Role
from kervan.accounts.testing import (
    assert_form_matrix,
    assert_page_matrix,
    assert_read_matrix,
    assert_write_matrix,
    login_client,
    make_role_user,
    role_client,
)
from kervan.core.models import AuditLog

USERS = "/api/v1/accounts/users"
NEW_PASSWORD = "Kervan-2026-strong"


def new_user_payload(username="zeynep", **extra):
    return {
        "username": username,
        "password": NEW_PASSWORD,
        "role": "support",
        "first_name": "Zeynep",
        "last_name": "Kaya",
        "email": " Zeynep@Example.COM ",
        "language": "en",
        **extra,
    }


def users_state():
    return sorted(User.objects.values_list("username", "role", "is_active"))


def test_admin_creates_a_user_who_can_log_in(api):
    response = api.post("/accounts/users", new_user_payload())
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["username"] == "zeynep" and data["role"] == "support" and data["email"] == "zeynep@example.com"
    assert data["is_active"] and not data["two_factor"]
    user = User.objects.get(username="zeynep")
    assert user.check_password(NEW_PASSWORD) and user.language == "en"
    row = AuditLog.objects.get(action="create", object_type="accounts.user")
    assert NEW_PASSWORD not in str(row.changes)
    assert Client().login(username="zeynep", password=NEW_PASSWORD)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"role": "boss"}, 400, "invalid_role"),
        ({"password": "123"}, 400, "invalid_password"),
        ({"language": "de"}, 400, "invalid_language"),
        ({"email": "not-an-email"}, 400, "invalid_email"),
        ({"username": "has space"}, 400, "invalid_username"),
        ({"username": "  "}, 400, "required"),
        ({"username": "AYSE"}, 409, "username_taken"),
        ({"is_staff": True}, 422, "validation_error"),
    ],
)
def test_user_create_refuses_bad_input_and_writes_nothing(api, change, status, code):
    before = users_state()
    response = api.post("/accounts/users", new_user_payload(**change))
    assert response.status_code == status, response.content
    assert response.json()["code"] == code and response.json()["detail"]
    assert users_state() == before
    assert not AuditLog.objects.filter(object_type="accounts.user").exists()


def test_user_create_matrix(db):
    assert_write_matrix("POST", USERS, lambda role: new_user_payload(f"new-{role}"), "settings", users_state)


def test_user_list_and_detail_are_for_admins(db):
    staff = make_role_user(Role.SALES)
    responses = assert_read_matrix(USERS, "settings", "write")
    assert staff.username in [u["username"] for u in responses[Role.ADMIN].json()["items"]]
    assert_read_matrix(f"{USERS}/{staff.pk}", "settings", "write")


def test_user_list_searches_and_pages(api, make_user):
    for name in ("ali", "alper", "burak"):
        make_user(Role.SALES, name)
    first = api.get("/accounts/users", {"q": "al", "limit": 1}).json()
    assert [u["username"] for u in first["items"]] == ["ali"]
    second = api.get("/accounts/users", {"q": "al", "limit": 1, "cursor": first["next_cursor"]}).json()
    assert [u["username"] for u in second["items"]] == ["alper"] and second["next_cursor"] is None
    assert api.get("/accounts/users/999999").status_code == 404


def test_change_role_deactivate_and_reactivate(api, admin_user):
    staff = make_role_user(Role.SALES, password=NEW_PASSWORD)
    url = f"/accounts/users/{staff.pk}"
    assert api.patch(url, {"role": "marketing"}).json()["role"] == "marketing"
    assert AuditLog.objects.filter(object_id=str(staff.pk), changes={"role": ["sales", "marketing"]}).exists()

    client = login_client(staff)
    assert client.get("/api/v1/accounts/me").status_code == 200
    assert api.patch(url, {"is_active": False}).json()["is_active"] is False
    # Open sessions stop working and the password no longer logs in.
    assert client.get("/api/v1/accounts/me").status_code == 401
    assert not Client().login(username=staff.username, password=NEW_PASSWORD)

    assert api.patch(url, {"is_active": True}).json()["is_active"] is True
    assert Client().login(username=staff.username, password=NEW_PASSWORD)


def test_patch_is_all_or_nothing(api):
    staff = make_role_user(Role.SALES)
    response = api.patch(f"/accounts/users/{staff.pk}", {"role": "analyst", "language": "xx"})
    assert response.status_code == 400
    staff.refresh_from_db()
    assert staff.role == Role.SALES


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(admin_user):
    other = make_role_user(Role.ADMIN)
    client = login_client(other)
    response = client.patch(f"{USERS}/{admin_user.pk}", {"role": "sales"}, content_type="application/json")
    assert response.status_code == 200  # `other` is still an Admin

    response = client.patch(f"{USERS}/{other.pk}", {"role": "sales"}, content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "last_admin"
    response = client.patch(f"{USERS}/{other.pk}", {"is_active": False}, content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "cannot_deactivate_self"
    other.refresh_from_db()
    assert other.role == Role.ADMIN and other.is_active


def test_user_update_matrix(db):
    targets = {}

    def path(role):
        targets[role] = make_role_user(Role.SUPPORT)
        return f"{USERS}/{targets[role].pk}"

    assert_write_matrix("PATCH", path, {"role": "analyst", "is_active": False}, "settings", users_state)


# --- web pages -----------------------------------------------------------------------------------------------


def test_user_pages(admin_client, admin_user):
    assert admin_client.get(reverse("accounts:users")).status_code == 200
    assert "ayse" in admin_client.get(reverse("accounts:users"), {"q": "ay"}).content.decode()
    assert admin_client.get(reverse("accounts:user_create")).status_code == 200

    refused = admin_client.post(reverse("accounts:user_create"), {**new_user_payload(), "password": "1"})
    assert refused.status_code == 400 and not User.objects.filter(username="zeynep").exists()
    assert 'value="zeynep"' in refused.content.decode()  # the form keeps what was typed

    created = admin_client.post(reverse("accounts:user_create"), new_user_payload())
    user = User.objects.get(username="zeynep")
    assert created["Location"] == reverse("accounts:user", args=[user.pk])
    assert admin_client.get(created["Location"]).status_code == 200

    admin_client.post(created["Location"], {"op": "role", "role": "analyst"})
    admin_client.post(created["Location"], {"op": "deactivate"})
    user.refresh_from_db()
    assert user.role == Role.ANALYST and not user.is_active
    admin_client.post(created["Location"], {"op": "reactivate"})
    user.refresh_from_db()
    assert user.is_active

    page = admin_client.post(reverse("accounts:user", args=[admin_user.pk]), {"op": "deactivate"}, follow=True)
    assert "cannot deactivate your own account" in page.content.decode()
    assert admin_client.get(reverse("accounts:user", args=[999999])).status_code == 404


def test_user_page_matrix(db):
    staff = make_role_user(Role.SALES)
    assert_page_matrix(reverse("accounts:users"), "settings", "write")
    assert_page_matrix(reverse("accounts:user", args=[staff.pk]), "settings", "write")
    assert_page_matrix(reverse("accounts:user_create"), "settings", "write")


def test_user_forms_matrix(db):
    assert_form_matrix(
        reverse("accounts:user_create"), lambda role: new_user_payload(f"form-{role}"), "settings", users_state
    )
    staff = make_role_user(Role.SUPPORT)
    assert_form_matrix(
        reverse("accounts:user", args=[staff.pk]), {"op": "role", "role": "analyst"}, "settings", users_state
    )


def test_anonymous_is_sent_to_login_and_api_says_401(client):
    response = client.get(reverse("accounts:users"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    response = client.get(USERS)
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_role_client_gives_a_logged_in_user_of_that_role(db):
    client = role_client(Role.ANALYST)
    me = client.get("/api/v1/accounts/me").json()
    assert me["user"]["role"] == "analyst" and me["scopes"]["audit"] == "read"
