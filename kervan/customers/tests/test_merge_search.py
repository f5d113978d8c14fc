"""Merging picks the other profile by searching for it (htmx as you type, the customer list's own search), not by
typing its number; only roles that may change customers can search or merge, and a refusal changes nothing."""

import re

import pytest

from kervan.accounts.actors import Actor
from kervan.accounts.permissions import Role, allows, role_access
from kervan.accounts.testing import login_client, make_role_user
from kervan.customers.actions import customer_merge
from kervan.customers.models import Customer
from kervan.customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db


def _hits(body: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-merge-with="(\d+)"', body)]


def test_the_search_finds_others_the_turkish_way_and_never_the_profile_itself(admin_client):
    survivor = make_customer(first_name="Işıl", last_name="Çağlar", email="isil@example.com")
    twin = make_customer(first_name="IŞIL", last_name="ÇAĞLAR", email="isil.caglar@example.net")
    make_customer(first_name="Mert", last_name="Kaya")
    gone = make_customer(first_name="Işıl", last_name="Çağlar", email="eski@example.com")
    customer_merge(actor=Actor.system(), survivor=twin, merged=gone)

    search = lambda q: admin_client.get(f"/customers/{survivor.pk}/merge/search/", {"q": q})  # noqa: E731
    response = search("isil caglar")
    assert response.status_code == 200 and "<html" not in response.content.decode()
    assert _hits(response.content.decode()) == [twin.pk]  # not the survivor, not a merged-away profile
    assert f'href="/customers/{survivor.pk}/merge/?with={twin.pk}"' in response.content.decode()
    assert _hits(search("i").content.decode()) == []  # one letter is not a search yet
    assert "No other customer matches" in search("zeynep").content.decode()
    assert _hits(search("ça\x00ğlar").content.decode()) == [twin.pk]  # a NUL is dropped, not a 500

    page = admin_client.get(f"/customers/{survivor.pk}/merge/").content.decode()
    assert f'hx-get="/customers/{survivor.pk}/merge/search/"' in page and 'hx-target="#merge-search-results"' in page
    assert 'name="with"' in page  # the number stays as a fallback
    # Without script the same box submits the page, which lists the same hits.
    assert _hits(admin_client.get(f"/customers/{survivor.pk}/merge/", {"q": "ÇAĞLAR"}).content.decode()) == [twin.pk]


def test_merge_and_its_search_as_a_permission_matrix(db):
    for role in Role.values:
        survivor, other = make_customer(last_name="Birinci"), make_customer(last_name="İkinci")
        client = login_client(make_role_user(role))
        may = allows(role_access(role).get("customers"), "write")
        merged_before = Customer.objects.filter(merged_into__isnull=False).count()
        search = client.get(f"/customers/{survivor.pk}/merge/search/", {"q": "ikinci"})
        assert search.status_code == (200 if may else 403), role
        merged = client.post(f"/customers/{survivor.pk}/merge/", {"merged_id": other.pk})
        other.refresh_from_db()
        if may:
            assert merged.status_code == 302 and other.merged_into_id == survivor.pk, role
        else:
            assert merged.status_code == 403 and other.merged_into_id is None, role
            assert Customer.objects.filter(merged_into__isnull=False).count() == merged_before
    assert not allows(role_access(Role.READ_ONLY).get("customers"), "write")  # the matrix did refuse someone
