"""The header's global search and the menu: each shows what the logged-in role may read."""

import pytest
from django.test import Client

from kervan.accounts.permissions import Role
from kervan.customers.tests.factories import make_customer
from kervan.workspace.nav import NavItem, nav_items, register_nav
from kervan.workspace.search import SearchHit, SearchSource, register_search, search_sources

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _menu(client) -> list[str]:
    return [item.key for item, _url, _active in client.get("/customers/").context["menu"]]


def test_the_menu_shows_each_role_what_it_may_open(make_user):
    admin = _menu(_client(make_user(Role.ADMIN, "yonetici")))
    readonly = _menu(_client(make_user(Role.READ_ONLY, "okur")))
    assert {"customers", "imports", "settings"} <= set(admin)
    assert "customers" in readonly and "imports" not in readonly and "settings" not in readonly
    # in the registered order
    order = [item.key for item, _url in nav_items()]
    assert [k for k in order if k in admin] == admin


def test_the_menu_marks_the_section_of_the_page(admin_client):
    active = [item.key for item, _url, on in admin_client.get("/customers/").context["menu"] if on]
    assert active == ["customers"]


def test_registering_a_different_entry_under_a_taken_name_fails():
    with pytest.raises(ValueError):
        register_nav(NavItem("customers", "Other", "imports:list", area="imports"))
    with pytest.raises(ValueError):
        register_search(SearchSource("customers", "Other", "customers", lambda actor, words, limit: []))


def test_search_finds_customers_turkish_aware_and_one_hit_opens_it(admin_client):
    only = make_customer(first_name="Işıl", last_name="Çağlar", email="isil@example.com")
    make_customer(first_name="Ali", last_name="Kaya")
    response = admin_client.get("/search/", {"q": "ISIL"})
    assert response.status_code == 302 and response["Location"] == f"/customers/{only.pk}/"
    make_customer(first_name="Işıl", last_name="Başka")
    body = admin_client.get("/search/", {"q": "ışıl"}).content.decode()
    assert "Işıl Çağlar" in body and "Işıl Başka" in body and "Ali Kaya" not in body


def test_search_shows_only_sources_the_role_may_read(make_user, monkeypatch):
    from kervan.workspace import search

    audit_only = SearchSource("audit-test", "Audit", "audit", lambda actor, words, limit: [SearchHit("secret", "/x/")])
    monkeypatch.setitem(search._sources, "audit-test", audit_only)
    make_customer(first_name="Gizli", last_name="Müşteri")
    make_customer(first_name="Gizli", last_name="Başka")
    sales = _client(make_user(Role.SALES, "satis")).get("/search/", {"q": "gizli"})  # reads customers, not the audit
    assert [g[0].key for g in sales.context["groups"]] == [
        s.key for s in search_sources() if s.key != "audit-test" and _may_read(Role.SALES, s.area)
    ]
    assert "Gizli Müşteri" in sales.content.decode() and "secret" not in sales.content.decode()
    admin = _client(make_user(Role.ADMIN, "tam")).get("/search/", {"q": "gizli"})
    assert "audit-test" in [g[0].key for g in admin.context["groups"]]


def _may_read(role: str, area: str) -> bool:
    from kervan.accounts.permissions import role_access

    return bool(role_access(role).get(area))


def test_every_registered_source_answers_an_empty_database(admin_actor):
    for source in search_sources():
        hits = source.find(admin_actor, "1001", 8)
        assert hits == [] or all(isinstance(h, SearchHit) for h in hits)


def test_an_empty_search_shows_the_help(admin_client):
    body = admin_client.get("/search/").content.decode()
    assert "Type a name, an email" in body
