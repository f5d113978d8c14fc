"""Connecting a platform: credentials checked before anything is saved, encrypted at rest, never shown again in full,
key rotation; the pages (list, connect, sync health, delivery, backfill) and the API, with their refusals."""

import json

import pytest
from django.db import connection as db

from kervan.accounts.permissions import Role
from kervan.core import crypto
from kervan.core.errors import KervanError
from kervan.core.models import Source
from kervan.core.testing import LoopbackSite
from kervan.integrations import actions
from kervan.integrations.models import Connection, Delivery
from kervan.integrations.testing import deliver, process_all
from kervan.integrations.tests.conftest import an_order, signed

SECRET = "shpat_0123456789abcdef0123"


@pytest.fixture
def stub_shop(monkeypatch):
    from kervan.integrations import platforms

    monkeypatch.setitem(platforms.MODULES, "stub", "kervan.integrations.tests.stub_platform")
    monkeypatch.setitem(actions.SOURCE_KINDS, "stub", Source.Kind.SHOPIFY)
    pages = {"/shop": (200, json.dumps({"name": "Kervan Çiçekçilik"}).encode())}
    with LoopbackSite(pages) as site:
        yield site


def _create(actor, site, token=SECRET):
    return actions.connection_create(
        actor=actor,
        platform="stub",
        name="Çiçekçi",
        base_url=site.url + "/",
        credentials={"token": token, "account": "acme"},
    )


@pytest.mark.django_db
def test_credentials_are_checked_then_stored_encrypted(stub_shop, admin_actor):
    connection = _create(admin_actor, stub_shop)
    assert stub_shop.asked_headers[-1]["Authorization"] == SECRET
    assert connection.base_url == stub_shop.url and connection.source.kind == Source.Kind.SHOPIFY
    with db.cursor() as cursor:
        cursor.execute("SELECT credentials_encrypted FROM integrations_connection WHERE id = %s", [connection.pk])
        (stored,) = cursor.fetchone()
    assert SECRET not in stored and "acme" not in stored
    assert Connection.objects.get().credentials == {"token": SECRET, "account": "acme"}


@pytest.mark.django_db
def test_a_refused_check_saves_nothing(stub_shop, admin_actor):
    stub_shop.pages["/shop"] = (401, b'{"errors": "Invalid API key or access token"}')
    with pytest.raises(KervanError) as refused:
        _create(admin_actor, stub_shop)
    assert refused.value.code == "connection_check_failed" and "401" in refused.value.detail
    assert not Connection.objects.exists() and not Source.objects.filter(key__startswith="stub").exists()


@pytest.mark.django_db
def test_missing_credentials_and_bad_address_are_refused(stub_shop, admin_actor):
    with pytest.raises(KervanError) as missing:
        _create(admin_actor, stub_shop, token="")
    assert (missing.value.code, missing.value.field) == ("missing_credential", "token")
    with pytest.raises(KervanError) as address:
        actions.connection_create(actor=admin_actor, platform="stub", name="x", base_url="ftp://x", credentials={})
    assert address.value.code == "invalid_base_url"


@pytest.mark.django_db
def test_an_edit_with_blank_secrets_keeps_them_and_the_audit_never_holds_them(stub_shop, admin_actor):
    from kervan.core.models import AuditLog

    connection = _create(admin_actor, stub_shop)
    actions.connection_update(
        actor=admin_actor,
        connection=connection,
        name="Çiçekçi TR",
        base_url=stub_shop.url,
        credentials={"token": "", "account": "acme2"},
    )
    connection.refresh_from_db()
    assert connection.credentials == {"token": SECRET, "account": "acme2"} and connection.name == "Çiçekçi TR"
    assert not any(SECRET in json.dumps(row.changes) for row in AuditLog.objects.all())


@pytest.mark.django_db
def test_key_rotation_re_encrypts_with_the_new_key(stub_shop, admin_actor, settings):
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.KERVAN_ENCRYPTION_KEYS = old
    connection = _create(admin_actor, stub_shop)
    settings.KERVAN_ENCRYPTION_KEYS = f"{new},{old}"
    assert Connection.objects.get().credentials["token"] == SECRET  # the old key still decrypts
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("encryption_rotate", stdout=out)
    assert out.getvalue().strip() == "re-encrypted 1 stored secret(s)"
    settings.KERVAN_ENCRYPTION_KEYS = new
    assert Connection.objects.get().credentials["token"] == SECRET  # the new key alone now does
    settings.KERVAN_ENCRYPTION_KEYS = Fernet.generate_key().decode()
    with pytest.raises(KervanError) as unreadable:
        _ = Connection.objects.get(pk=connection.pk).credentials
    assert unreadable.value.code == "secret_unreadable"


def test_mask_never_shows_more_than_a_quarter():
    assert crypto.mask("") == ""
    assert crypto.mask("abc") == "••••••••"
    assert crypto.mask(SECRET) == "••••••••0123"


@pytest.mark.django_db
def test_pages_show_health_dead_letters_and_masked_secrets(stub_shop, admin_actor, admin_client):
    connection = _create(admin_actor, stub_shop)
    body, headers = signed({"records": [an_order()]}, secret=SECRET)
    deliver(connection, body, headers)
    broken, headers = signed({"records": [{"kind": "order"}]}, secret=SECRET)
    deliver(connection, broken, headers)
    process_all()
    page = admin_client.get(f"/integrations/{connection.pk}/").content.decode()
    assert SECRET not in page and "••••••••0123" in page
    assert f"/integrations/hooks/{connection.token}/" in page
    dead = Delivery.objects.get(status=Delivery.Status.DEAD)
    assert f'data-delivery="{dead.pk}"' in page.split('id="dead-letters"')[1].split('id="deliveries"')[0]
    detail = admin_client.get(f"/integrations/{connection.pk}/deliveries/{dead.pk}/").content.decode()
    assert "missing" in detail and "&quot;kind&quot;: &quot;order&quot;" in detail
    listing = admin_client.get("/integrations/").content.decode()
    assert "Çiçekçi" in listing
    response = admin_client.post(f"/integrations/{connection.pk}/deliveries/{dead.pk}/replay/")
    assert response.status_code == 302
    dead.refresh_from_db()
    assert dead.status == Delivery.Status.PENDING and dead.due_at is not None


@pytest.mark.django_db
def test_the_connect_form_shows_the_platforms_refusal(stub_shop, admin_client):
    stub_shop.pages["/shop"] = (401, b"no")
    response = admin_client.post(
        "/integrations/connect/stub/",
        {"name": "Çiçekçi", "base_url": stub_shop.url, "credential_token": "bad", "credential_account": "a"},
    )
    assert response.status_code == 200 and 'id="form-error"' in response.content.decode()
    assert not Connection.objects.exists()


@pytest.mark.django_db
def test_roles(stub_shop, admin_actor, make_user, client):
    connection = _create(admin_actor, stub_shop)
    client.force_login(make_user(Role.ANALYST))
    assert client.get(f"/integrations/{connection.pk}/").status_code == 200
    assert client.post(f"/integrations/{connection.pk}/status/", {"status": "paused"}).status_code == 403
    client.force_login(make_user(Role.MARKETING, "pazarlama"))
    assert client.get("/integrations/").status_code == 403


@pytest.mark.django_db
def test_api(stub_shop, api, make_api_key, admin_actor):
    from kervan.conftest import ApiClient

    created = api.post("/integrations/connections", {"platform": "stub", "name": "Çiçekçi", "base_url": stub_shop.url,
                                                     "credentials": {"token": SECRET, "account": "acme"}})  # fmt: skip
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["credentials"] == {"token": "••••••••0123", "account": "acme"}
    assert body["health"]["backlog"] == 0 and body["webhook_path"].startswith("/integrations/hooks/")
    refused = api.post("/integrations/connections", {"platform": "nope", "name": "x", "credentials": {}})
    assert refused.status_code == 400 and refused.json()["code"]
    assert api.get("/integrations/connections/999999/").status_code == 404
    assert api.get(f"/integrations/connections/{body['id']}/deliveries?status=bogus").status_code == 400
    _, secret = make_api_key({"integrations": "read"}, name="read only")
    reader = ApiClient(secret)
    assert reader.get("/integrations/connections").status_code == 200
    assert reader.post(f"/integrations/connections/{body['id']}/backfills", {}).status_code == 403
    started = api.post(f"/integrations/connections/{body['id']}/backfills", {"kinds": ["orders"]})
    assert started.status_code == 201 and started.json()["status"] == "queued"
