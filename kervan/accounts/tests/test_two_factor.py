import pyotp
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kervan.accounts import two_factor
from kervan.accounts.actions import role_policies_set
from kervan.accounts.actors import Actor
from kervan.accounts.models import RolePolicy, User
from kervan.accounts.permissions import Role
from kervan.accounts.testing import assert_form_matrix, assert_write_matrix, login_client, make_role_user
from kervan.accounts.tests.helpers import totp_code
from kervan.core.models import AuditLog

PASSWORD = "kervan-test-pw"
NEXT = "/accounts/profile/"


@pytest.fixture
def enrolled_user(db):
    user = User.objects.create_user(username="elif", password=PASSWORD, role=Role.SALES, language="en")
    user.totp_secret = pyotp.random_base32()
    user.totp_confirmed_at = timezone.now()
    user.save()
    return user


def password_login(username: str) -> tuple[Client, object]:
    client = Client()
    response = client.post(reverse("accounts:login"), {"username": username, "password": PASSWORD, "next": NEXT})
    return client, response


# --- enrolment from the profile ------------------------------------------------------------------------------


def test_enrolment_shows_qr_and_secret_and_confirms_with_a_code(make_user):
    user = make_user(Role.SUPPORT)
    client = login_client(user)

    page = client.get(reverse("accounts:two_factor_enrol"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html
    secret = client.session[two_factor.SESSION_PENDING_SECRET]
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in html
    user.refresh_from_db()
    assert user.totp_secret == "" and not user.has_two_factor  # nothing stored until confirmed

    wrong = client.post(reverse("accounts:two_factor_enrol"), {"code": "000000"})
    assert wrong.status_code == 400
    assert "not right" in wrong.content.decode()
    user.refresh_from_db()
    assert not user.has_two_factor

    ok = client.post(reverse("accounts:two_factor_enrol"), {"code": totp_code(secret)})
    assert ok.status_code == 302
    user.refresh_from_db()
    assert user.has_two_factor and user.totp_secret == secret
    assert two_factor.SESSION_PENDING_SECRET not in client.session
    row = AuditLog.objects.get(object_id=str(user.pk), action="update")
    assert row.changes == {"two_factor": [False, True]}
    assert secret not in str(row.changes)


def test_provisioning_uri_names_kervan_as_issuer():
    uri = two_factor.provisioning_uri(pyotp.random_base32(), "ayse")
    assert uri.startswith("otpauth://totp/Kervan:ayse?") and "issuer=Kervan" in uri


def test_disable_needs_a_current_code(enrolled_user):
    client = login_client(enrolled_user)
    client.post(reverse("accounts:two_factor_disable"), {"code": "123456"})
    enrolled_user.refresh_from_db()
    assert enrolled_user.has_two_factor

    client.post(reverse("accounts:two_factor_disable"), {"code": totp_code(enrolled_user.totp_secret)})
    enrolled_user.refresh_from_db()
    assert not enrolled_user.has_two_factor and enrolled_user.totp_secret == ""
    assert AuditLog.objects.filter(object_id=str(enrolled_user.pk), changes={"two_factor": [True, False]}).exists()


def test_disable_is_refused_when_the_role_requires_two_factor(enrolled_user):
    RolePolicy.objects.create(role=Role.SALES, require_two_factor=True)
    client = login_client(enrolled_user)
    response = client.post(
        reverse("accounts:two_factor_disable"), {"code": totp_code(enrolled_user.totp_secret)}, follow=True
    )
    assert "cannot be turned off" in response.content.decode()
    enrolled_user.refresh_from_db()
    assert enrolled_user.has_two_factor


# --- the login step ------------------------------------------------------------------------------------------


def test_login_with_two_factor_goes_through_the_code_page(enrolled_user):
    client, response = password_login("elif")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:two_factor"))
    assert AuditLog.objects.filter(action="login", actor_user=enrolled_user, changes={"method": "password"}).exists()

    # Nothing else is reachable until the code is entered; the API refuses the session too.
    blocked = client.get(reverse("accounts:profile"))
    assert blocked.status_code == 302 and blocked["Location"] == reverse("accounts:two_factor")
    api = client.get("/api/v1/accounts/me")
    assert api.status_code == 401 and api.json()["code"] == "not_authenticated"

    wrong = client.post(reverse("accounts:two_factor"), {"code": "000000", "next": NEXT})
    assert wrong.status_code == 400
    assert "not right" in wrong.content.decode()
    assert not client.session.get(two_factor.SESSION_VERIFIED)

    ok = client.post(reverse("accounts:two_factor"), {"code": totp_code(enrolled_user.totp_secret), "next": NEXT})
    assert ok.status_code == 302 and ok["Location"] == NEXT
    assert client.session[two_factor.SESSION_VERIFIED] is True
    assert client.get(reverse("accounts:profile")).status_code == 200
    assert client.get("/api/v1/accounts/me").json()["user"]["username"] == "elif"
    assert AuditLog.objects.filter(action="login", actor_user=enrolled_user, changes={"method": "two_factor"}).exists()


def test_login_without_two_factor_goes_straight_in(make_user):
    make_user(Role.SUPPORT, "deniz")
    client, response = password_login("deniz")
    assert response.status_code == 302 and response["Location"] == NEXT
    assert client.get("/api/v1/accounts/me").status_code == 200


def test_wrong_codes_are_limited_then_refused_even_when_right(enrolled_user):
    client, _ = password_login("elif")
    for _attempt in range(two_factor.MAX_FAILURES - 1):
        client.post(reverse("accounts:two_factor"), {"code": "000000"})
    last = client.post(reverse("accounts:two_factor"), {"code": "000000"})
    assert "Too many wrong codes" in last.content.decode()

    right = client.post(reverse("accounts:two_factor"), {"code": totp_code(enrolled_user.totp_secret)})
    assert right.status_code == 400
    assert "Too many wrong codes" in right.content.decode()
    assert not client.session.get(two_factor.SESSION_VERIFIED)


def test_a_code_cannot_be_used_twice(enrolled_user):
    code = totp_code(enrolled_user.totp_secret)
    first, _ = password_login("elif")
    assert first.post(reverse("accounts:two_factor"), {"code": code}).status_code == 302

    second, _ = password_login("elif")
    replay = second.post(reverse("accounts:two_factor"), {"code": code})
    assert replay.status_code == 400 and "already used" in replay.content.decode()


def test_role_policy_leads_an_unenrolled_user_to_enrol_at_login(make_user):
    RolePolicy.objects.create(role=Role.MARKETING, require_two_factor=True)
    user = make_user(Role.MARKETING, "mert")
    client, response = password_login("mert")
    assert response["Location"].startswith(reverse("accounts:two_factor"))

    page = client.get(response["Location"])
    assert page.status_code == 200 and "<svg" in page.content.decode()
    secret = client.session[two_factor.SESSION_PENDING_SECRET]

    done = client.post(reverse("accounts:two_factor"), {"code": totp_code(secret), "next": NEXT})
    assert done.status_code == 302 and done["Location"] == NEXT
    user.refresh_from_db()
    assert user.has_two_factor
    assert client.session[two_factor.SESSION_VERIFIED] is True


def test_a_new_login_never_inherits_a_verified_second_factor(enrolled_user):
    client = Client()
    session = client.session
    session[two_factor.SESSION_VERIFIED] = True
    session.save()
    client.cookies["sessionid"] = session.session_key
    client.post(reverse("accounts:login"), {"username": "elif", "password": PASSWORD, "next": NEXT})
    assert not client.session.get(two_factor.SESSION_VERIFIED)
    assert client.get(reverse("accounts:profile")).status_code == 302


def test_policy_change_applies_to_open_sessions(make_user):
    user = make_user(Role.ANALYST, "can")
    client = Client()
    client.force_login(user)
    assert client.get("/api/v1/accounts/me").status_code == 200
    role_policies_set(actor=Actor.for_user(make_user(Role.ADMIN, "yonetici")), require_two_factor={Role.ANALYST: True})
    assert client.get("/api/v1/accounts/me").status_code == 401
    assert client.get(reverse("accounts:profile"))["Location"] == reverse("accounts:two_factor")


# --- the per-role policy (Admin) -----------------------------------------------------------------------------


def test_security_page_sets_the_policy_per_role(admin_client):
    page = admin_client.get(reverse("accounts:security"))
    assert page.status_code == 200
    admin_client.post(reverse("accounts:security"), {"require_sales": "on", "require_support": "on"})
    assert set(RolePolicy.objects.filter(require_two_factor=True).values_list("role", flat=True)) == {
        "sales",
        "support",
    }
    assert AuditLog.objects.filter(object_type="accounts.rolepolicy", object_id="sales").exists()
    admin_client.post(reverse("accounts:security"), {"require_support": "on"})
    assert not RolePolicy.objects.get(role="sales").require_two_factor


def test_security_form_matrix(db):
    def snapshot():
        return sorted(RolePolicy.objects.values_list("role", "require_two_factor"))

    assert_form_matrix(reverse("accounts:security"), {"require_readonly": "on"}, "settings", snapshot)


def test_role_policy_api_matrix_and_validation(db, api):
    assert_write_matrix(
        "PATCH",
        "/api/v1/accounts/role-policies",
        {"require_two_factor": {"support": True}},
        "settings",
        lambda: sorted(RolePolicy.objects.values_list("role", "require_two_factor")),
    )
    bad = api.patch("/accounts/role-policies", {"require_two_factor": {"boss": True}})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_role"
    got = api.get("/accounts/role-policies").json()["require_two_factor"]
    assert got["support"] is True and got["admin"] is False


def test_admin_resets_a_lost_phone(admin_client, enrolled_user):
    response = admin_client.post(reverse("accounts:user", args=[enrolled_user.pk]), {"op": "reset_two_factor"})
    assert response.status_code == 302
    enrolled_user.refresh_from_db()
    assert not enrolled_user.has_two_factor


def test_reset_two_factor_api_matrix(db):
    users = {}

    def path(role):
        users[role] = make_role_user(Role.SALES, totp_secret="JBSWY3DPEHPK3PXP", totp_confirmed_at=timezone.now())
        return f"/api/v1/accounts/users/{users[role].pk}/reset-two-factor"

    assert_write_matrix(
        "POST", path, None, "settings", lambda: User.objects.filter(totp_confirmed_at__isnull=False).count()
    )
