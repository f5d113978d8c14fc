"""The list framework as a shop uses it, on the customer list: bad filters flagged beside their input while the rest
apply, counts, columns, saved views (private and shared), bulk actions and their permissions."""

import csv
import io

import pytest
from django.test import Client

from kervan.accounts.permissions import Role
from kervan.core.models import AuditLog
from kervan.customers.models import Customer
from kervan.customers.tests.factories import make_customer, make_order
from kervan.workspace import lists
from kervan.workspace.models import SavedView

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _names(body: str) -> set[str]:
    return {c.full_name for c in Customer.objects.all() if f">{c.full_name}<" in body}


def test_a_bad_filter_is_flagged_beside_it_and_the_others_stay_applied(admin_client):
    make_customer(first_name="Deniz", last_name="Ankaralı", city="Ankara")
    make_customer(first_name="Ece", last_name="İzmirli", city="İzmir")
    response = admin_client.get("/customers/", {"city": "Ankara", "min_spent": "çok", "sort": "nonsense"})
    body = response.content.decode()
    assert response.status_code == 200
    assert _names(body) == {"Deniz Ankaralı"}  # the city still filters
    state = response.context["state"]
    assert set(state.errors) == {"min_spent", "sort"}
    assert "is not an amount" in state.errors["min_spent"]
    assert state.sort == "newest" and state.applied == {"city": "Ankara"}
    # the message sits inside the refused filter's own label, and the typed value is kept for correcting
    label = body.split('name="min_spent"')[0].rsplit("<label", 1)[1]
    assert "has-error" in label
    assert 'value="çok"' in body


def test_a_bad_date_range_is_refused_on_the_end_field(admin_client):
    response = admin_client.get("/customers/", {"created_from": "2026-03-10", "created_to": "2026-03-01"})
    assert set(response.context["state"].errors) == {"created_to"}


def test_the_count_is_exact_and_says_how_many(admin_client):
    for _ in range(3):
        make_customer(city="Bursa")
    make_customer(city="Konya")
    assert admin_client.get("/customers/").context["count_text"] == "4 results"
    assert admin_client.get("/customers/", {"city": "Bursa"}).context["count_text"] == "3 results"


def test_a_large_count_on_postgresql_is_an_estimate_labelled_as_one_and_exact_on_demand(admin_client, monkeypatch):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no planner estimate: its lists are always counted exactly")
    monkeypatch.setattr(lists, "EXACT_COUNT_UP_TO", 3)
    for _ in range(5):
        make_customer()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    response = admin_client.get("/customers/")
    assert response.context["count"].exact is False
    assert response.context["count_text"].startswith("about ")
    assert admin_client.get("/customers/", {"count": "exact"}).content.decode() == "5 results"


def test_the_column_chooser_shows_only_the_chosen_columns(admin_client):
    make_customer(city="Trabzon")
    body = admin_client.get("/customers/", {"cols": ["customer", "created"]}).content.decode()
    assert 'data-col="created"' in body and 'data-col="city"' not in body
    assert '<td data-label="City">Trabzon</td>' not in body
    body = admin_client.get("/customers/").content.decode()
    assert '<td data-label="City">Trabzon</td>' in body  # (the same row with the default columns)


def test_saved_views_are_private_unless_shared(admin_user, make_user):
    mine, other = _client(admin_user), _client(make_user(Role.SALES, "satis"))
    mine.post("/views/customers/save/", {"name": "Ankara", "query": "city=Ankara"})
    mine.post("/views/customers/save/", {"name": "Big spenders", "query": "min_spent=1000", "shared": "on"})
    assert [v.name for v in SavedView.objects.order_by("name")] == ["Ankara", "Big spenders"]
    seen_by_other = [v.name for v in other.get("/customers/").context["saved_views"]]
    assert seen_by_other == ["Big spenders"]
    private = SavedView.objects.get(name="Ankara")
    # another user cannot delete it; its owner can
    other.post(f"/views/{private.pk}/delete/")
    assert SavedView.objects.filter(pk=private.pk).exists()
    mine.post(f"/views/{private.pk}/delete/")
    assert not SavedView.objects.filter(pk=private.pk).exists()


def test_saving_a_view_again_under_its_name_updates_it(admin_client):
    admin_client.post("/views/customers/save/", {"name": "VIP", "query": "tag=vip"})
    response = admin_client.post("/views/customers/save/", {"name": "VIP", "query": "tag=vip&sort=total_spent"})
    view = SavedView.objects.get()
    assert view.query == "tag=vip&sort=total_spent"
    assert response["Location"] == f"/customers/?tag=vip&sort=total_spent&view={view.pk}"
    saves = AuditLog.objects.filter(object_type="workspace.savedview").order_by("id")
    assert [a.action for a in saves] == ["create", "update"]


def test_bulk_tag_tags_the_ticked_customers_and_audits_each(admin_client):
    a, b, c = make_customer(), make_customer(), make_customer()
    response = admin_client.post(
        "/lists/customers/bulk/", {"action": "tag", "value-tag": "VIP", "ids": [a.pk, b.pk], "next": "/customers/"}
    )
    assert response.status_code == 302 and response["Location"] == "/customers/"
    tagged = set(Customer.objects.filter(tags__name="VIP").values_list("pk", flat=True))
    assert tagged == {a.pk, b.pk} and c.pk not in tagged
    tag_audits = AuditLog.objects.filter(action="update", changes__tags__added="VIP")
    assert set(tag_audits.values_list("customer_id", flat=True)) == {a.pk, b.pk}
    # again: nobody gains it twice
    admin_client.post("/lists/customers/bulk/", {"action": "tag", "value-tag": "VIP", "ids": [a.pk]})
    assert tag_audits.count() == 2


def test_bulk_actions_refused_to_a_role_without_the_right_change_nothing(make_user):
    customer = make_customer()
    analyst = _client(make_user(Role.ANALYST, "analist"))  # reads customers, may not write them
    response = analyst.post("/lists/customers/bulk/", {"action": "tag", "value-tag": "VIP", "ids": [customer.pk]})
    assert response.status_code == 403
    assert not Customer.objects.filter(tags__name="VIP").exists()
    # and the tag action is not offered to it at all
    offered = [a.key for a in analyst.get("/customers/").context["bulk"]]
    assert "tag" not in offered


def test_bulk_without_rows_or_with_an_unknown_action_says_so(admin_client):
    customer = make_customer()
    response = admin_client.post("/lists/customers/bulk/", {"action": "tag", "value-tag": "x"}, follow=True)
    assert "Tick at least one row first." in response.content.decode()
    response = admin_client.post("/lists/customers/bulk/", {"action": "explode", "ids": [customer.pk]}, follow=True)
    assert "Choose an action." in response.content.decode()
    response = admin_client.post("/lists/customers/bulk/", {"action": "tag", "ids": [customer.pk]}, follow=True)
    assert "Name the tag to add." in response.content.decode()
    assert not Customer.objects.filter(tags__isnull=False).exists()


def test_bulk_export_downloads_exactly_the_ticked_rows(admin_client):
    a, b = make_customer(first_name="Selin"), make_customer(first_name="Kaan")
    make_order(a)
    response = admin_client.post("/lists/customers/bulk/", {"action": "export", "ids": [a.pk]})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [int(r["id"]) for r in rows] == [a.pk] and rows[0]["order_count"] == "1"
    assert b.pk not in [int(r["id"]) for r in rows]


def test_the_list_page_reads_a_bounded_number_of_queries(admin_client, django_assert_max_num_queries):
    for _ in range(30):
        make_order(make_customer())
    admin_client.get("/customers/")  # warm the facet cache
    with django_assert_max_num_queries(12):
        response = admin_client.get("/customers/", {"sort": "total_spent"})
    assert response.context["page"].items


def test_an_empty_list_says_what_to_do_next(admin_client):
    body = admin_client.get("/customers/").content.decode()
    assert "No customers yet." in body and "/imports/" in body
    make_customer(city="Rize")
    body = admin_client.get("/customers/", {"city": "Rize", "q": "nobody-like-this"}).content.decode()
    assert "Nothing matches these filters." in body


def test_odd_input_never_breaks_a_list(admin_client):
    make_customer(city="Van")
    # a cursor made under another sort, a damaged cursor, far-off years, NUL characters
    first = admin_client.get("/customers/", {"sort": "total_spent", "cols": ["customer"]})
    assert first.status_code == 200
    from kervan.core.pagination import encode_cursor

    foreign = encode_cursor(["-stats__total_spent", "12.50", 1])
    for params in (
        {"cursor": foreign},
        {"cursor": "garbage"},
        {"created_from": "0001-01-01", "created_to": "9999-12-31"},
        {"q": "a\x00b", "city": "V\x00an"},
    ):
        response = admin_client.get("/customers/", params)
        assert response.status_code == 200, params
    state = admin_client.get("/customers/", {"created_to": "9999-12-31"}).context["state"]
    assert "created_to" in state.errors
    assert "cursor" in admin_client.get("/customers/", {"cursor": foreign}).context["state"].errors
    assert admin_client.get("/search/", {"q": "V\x00an"}).status_code in (200, 302)
