import contextlib

import pytest
from django.conf import settings
from django.test import Client
from django.urls import NoReverseMatch, reverse

from kervan.accounts.actors import Actor
from kervan.accounts.models import User
from kervan.accounts.permissions import Role
from kervan.accounts.testing import assert_page_matrix, assert_read_matrix, role_client
from kervan.core.audit import audit
from kervan.core.models import AuditLog

AUDIT = "/api/v1/accounts/audit-log"


@pytest.fixture
def history(admin_user, make_user):
    """Five rows: three by Ayşe (one about customer 7), one by Deniz about customer 7, one by Kervan itself."""
    deniz = make_user(Role.SUPPORT, "deniz")
    ayse, by_deniz = Actor.for_user(admin_user), Actor.for_user(deniz)
    rows = [
        audit(actor=ayse, action="create", object_type="customers.customer", object_id=7, customer_id=7),
        audit(actor=ayse, action="update", object_type="customers.customer", object_id=8, customer_id=8),
        audit(actor=by_deniz, action="update", object_type="customers.customer", object_id=7, customer_id=7),
        audit(actor=Actor.system(), action="import", object_type="imports.job", object_id=1),
        audit(actor=ayse, action="export", object_type="exports.file", object_id=3, changes={"rows": 10}),
    ]
    return {"ayse": admin_user, "deniz": deniz, "rows": rows}


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["items"]]


def test_audit_api_is_newest_first_and_filters(api, history):
    rows, ayse, deniz = history["rows"], history["ayse"], history["deniz"]
    assert ids(api.get(AUDIT)) == [r.pk for r in reversed(rows)]
    assert ids(api.get(AUDIT, {"action": "update"})) == [rows[2].pk, rows[1].pk]
    assert ids(api.get(AUDIT, {"actor_user": deniz.pk})) == [rows[2].pk]
    assert ids(api.get(AUDIT, {"customer_id": 7})) == [rows[2].pk, rows[0].pk]
    assert ids(api.get(AUDIT, {"customer_id": 7, "actor_user": ayse.pk, "action": "create"})) == [rows[0].pk]
    first = api.get(AUDIT, {"actor_user": ayse.pk}).json()["items"][0]
    assert first["actor_user"] == "ayse" and first["changes"] == {"rows": 10} and first["action"] == "export"


def test_audit_api_pages_with_a_cursor(api, history):
    rows = history["rows"]
    seen, cursor = [], None
    while True:
        page = api.get(AUDIT, {"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [row["id"] for row in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [r.pk for r in reversed(rows)]


@pytest.mark.parametrize(
    ("params", "code"),
    [({"action": "explode"}, "invalid_action"), ({"cursor": "!!"}, "invalid_cursor"), ({"limit": 0}, "invalid_limit")],
)
def test_audit_api_refuses_bad_filters(api, history, params, code):
    response = api.get(AUDIT, params)
    assert response.status_code == 400 and response.json()["code"] == code


def test_audit_api_matrix(db):
    assert_read_matrix(AUDIT, "audit")


def test_audit_log_page_filters(admin_client, history):
    page = admin_client.get(reverse("accounts:audit_log"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Customer created" in html and "Customer updated" in html and "Rows:" in html
    only_deniz = admin_client.get(reverse("accounts:audit_log"), {"actor_user": history["deniz"].pk}).content.decode()
    assert 'data-action="import"' not in only_deniz and "Customer updated" in only_deniz
    bad = admin_client.get(reverse("accounts:audit_log"), {"customer_id": "seven"})
    assert bad.status_code == 400 and "is not a number" in bad.content.decode()


def test_audit_page_paginates(admin_client, admin_actor):
    AuditLog.objects.bulk_create(
        AuditLog(actor_user_id=admin_actor.user_id, action="view", object_type="customers.customer", object_id=i)
        for i in range(55)
    )
    first = admin_client.get(reverse("accounts:audit_log"), {"action": "view"})
    html = first.content.decode()
    assert html.count('data-action="view"') == 50
    link = html.split('class="pager"><a class="button" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert "action=view" in link
    second = admin_client.get(reverse("accounts:audit_log") + link).content.decode()
    assert second.count('data-action="view"') == 5


def test_audit_page_matrix(db):
    assert_page_matrix(reverse("accounts:audit_log"), "audit")


def test_login_is_recorded(make_user):
    user = make_user(Role.ANALYST, "can")
    client = Client(REMOTE_ADDR="10.1.2.3")
    login = {"username": "can", "password": "kervan-test-pw", "next": "/accounts/profile/"}
    client.post(reverse("accounts:login"), login)
    row = AuditLog.objects.get(action="login")
    assert row.actor_user == user and row.object_id == str(user.pk) and row.ip_address == "10.1.2.3"
    client.post(reverse("accounts:login"), {"username": "can", "password": "wrong"})
    assert AuditLog.objects.filter(action="login").count() == 1


# --- settings index and profile ------------------------------------------------------------------------------


def test_settings_index_matrix_and_cards(db):
    responses = assert_page_matrix(reverse("accounts:settings"), "settings")
    admin = responses[Role.ADMIN].content.decode()
    for name in ("users", "security", "api_keys", "audit_log", "profile"):
        assert reverse(f"accounts:{name}") in admin
    marketing = responses[Role.MARKETING].content.decode()
    assert reverse("accounts:users") not in marketing and reverse("accounts:audit_log") not in marketing
    assert reverse("accounts:profile") in marketing


def test_settings_index_links_other_apps_only_when_they_exist(admin_client):
    html = admin_client.get(reverse("accounts:settings")).content.decode()
    for name in ("customers:custom_fields", "events:tracker"):
        # A page another app has not published yet gives no card, and no crash.
        with contextlib.suppress(NoReverseMatch):
            assert reverse(name) in html


def test_profile_for_every_role(db):
    for role in Role.values:
        response = role_client(role).get(reverse("accounts:profile"))
        assert response.status_code == 200
        assert reverse("accounts:two_factor_enrol") in response.content.decode()


def test_profile_language(admin_client, admin_user):
    response = admin_client.post(reverse("accounts:profile"), {"language": "tr"})
    assert response.status_code == 302 and response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "tr"
    admin_user.refresh_from_db()
    assert admin_user.language == "tr"
    assert AuditLog.objects.filter(object_id=str(admin_user.pk), changes={"language": ["en", "tr"]}).exists()
    admin_client.post(reverse("accounts:profile"), {"language": "xx"})
    admin_user.refresh_from_db()
    assert admin_user.language == "tr"


def test_profile_language_api(db):
    client = role_client(Role.READ_ONLY)
    response = client.patch("/api/v1/accounts/me", {"language": "en"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["language"] == "en"
    assert User.objects.get(pk=client.user.pk).language == "en"
    bad = client.patch("/api/v1/accounts/me", {"language": "fr"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_language"


def test_profile_language_is_each_users_own(db):
    """Every role may change its own language, and only its own."""
    clients = [role_client(role) for role in Role.values]
    for client in clients:
        assert client.post(reverse("accounts:profile"), {"language": "en"}).status_code == 302
    assert set(User.objects.values_list("language", flat=True)) == {"en"}
