import datetime as dt

import pytest
from django.test import Client

from kervan.core.models import AuditLog
from kervan.customers.actions import note_add
from kervan.customers.models import Customer, CustomFieldDefinition
from kervan.customers.tests.factories import IST, make_customer, make_order

pytestmark = pytest.mark.django_db


def test_list_searches_turkish_aware_and_sorts(admin_client):
    make_customer(first_name="Işık", last_name="Demir", city="İstanbul")
    make_customer(first_name="Ali", last_name="Veli", city="Ankara")
    body = admin_client.get("/customers/", {"q": "ISIK"}).content.decode()
    assert "Işık Demir" in body and "Ali Veli" not in body
    body = admin_client.get("/customers/", {"city": "Ankara", "sort": "total_spent"}).content.decode()
    assert "Ali Veli" in body and "Işık Demir" not in body


def test_list_shows_more_with_htmx(admin_client):
    for _ in range(55):
        make_customer()
    first = admin_client.get("/customers/").content.decode()
    assert first.count('class="customer-link"') == 50 and "more-row" in first
    cursor = first.split("cursor=")[1].split('"')[0]
    more = admin_client.get("/customers/", {"cursor": cursor}, HTTP_HX_REQUEST="true").content.decode()
    assert more.count('class="customer-link"') == 5 and "<html" not in more


def test_360_page_shows_header_facts_and_timeline(admin_client, admin_actor):
    customer = make_customer(first_name="Zeynep", last_name="Arslan", phone="05321112233")
    make_order(customer, total_lines=((2, "150.00"),), placed_at=dt.datetime(2026, 1, 5, tzinfo=IST))
    note_add(actor=admin_actor, customer=customer, body="Prefers SMS")
    response = admin_client.get(f"/customers/{customer.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Zeynep Arslan" in body and "300.00" in body and "05.01.2026" in body
    assert "Prefers SMS" in body and "placed" in body
    assert AuditLog.objects.filter(customer_id=customer.pk, action="view").exists()
    only_notes = admin_client.get(f"/customers/{customer.pk}/", {"kind": "note"}).content.decode()
    assert "Prefers SMS" in only_notes and "K0" not in only_notes.split('id="timeline"')[1]


def test_360_timeline_shows_an_events_time_and_first_four_properties(admin_client):
    from kervan.events.models import Event

    customer = make_customer()
    at = dt.datetime(2026, 3, 1, 9, 5, tzinfo=dt.UTC)  # 12:05 in Istanbul
    # In the order PostgreSQL's jsonb keeps keys (shorter first), so "first four" means the same on both databases.
    properties = {"sku": "<b>KRV-1</b>", "size": None, "price": 119.9, "title": "Ç" * 80, "colour": "hidden"}
    Event.objects.create(
        dedupe_key="p:1", customer=customer, name="Viewed Product", occurred_at=at, properties=properties
    )
    body = admin_client.get(f"/customers/{customer.pk}/").content.decode()
    assert 'title="2026-03-01T12:05:00+03:00">01.03.2026 12:05</span>' in body
    # readable labels in a fixed order (kervan.events.labels), escaped, long values cut, empty ones left out
    summary = f"Title: {'Ç' * 59}… · SKU: &lt;b&gt;KRV-1&lt;/b&gt; · Price: ₺119.90 · colour: hidden</div>"
    assert summary in body


def test_unknown_customer_is_a_404_page(admin_client):
    assert admin_client.get("/customers/99999/").status_code == 404


def test_create_and_edit_through_forms(admin_client):
    CustomFieldDefinition.objects.create(key="size", label="Beden", field_type="choice", choices=["S", "M"])
    response = admin_client.post(
        "/customers/new/",
        {
            "first_name": "Can",
            "last_name": "Öz",
            "email": "can@example.com",
            "phone": "0532 000 11 22",
            "gender": "male",
            "country": "TR",
            "language": "tr",
            "time_zone": "Europe/Istanbul",
            "tags": "vip, yeni",
            "cf_size": "M",
        },
    )
    customer = Customer.objects.get(email="can@example.com")
    assert response.status_code == 302 and customer.custom_fields == {"size": "M"}
    bad = admin_client.post(
        f"/customers/{customer.pk}/edit/",
        {"first_name": "Can", "email": "broken", "time_zone": "Europe/Istanbul", "cf_size": "M"},
    )
    assert bad.status_code == 200 and "not a valid email" in bad.content.decode()
    customer.refresh_from_db()
    assert customer.email == "can@example.com"


def test_merge_flow_in_the_ui(admin_client):
    a = make_customer(first_name="Elif", last_name="Kaya", city="Bursa")
    b = make_customer(first_name="Elif", last_name="Kaya", city="Bursa")
    assert '<span class="pill"' in admin_client.get(f"/customers/{a.pk}/duplicates/badge/").content.decode()
    page = admin_client.get(f"/customers/{a.pk}/merge/").content.decode()
    assert f"?with={b.pk}" in page
    assert admin_client.post(f"/customers/{a.pk}/merge/", {"merged_id": b.pk}).status_code == 302
    assert Customer.objects.get(pk=b.pk).merged_into_id == a.pk
    # the merged profile's page leads to the survivor, and the merge is on its timeline
    assert admin_client.get(f"/customers/{b.pk}/").url == f"/customers/{a.pk}/"
    assert "Merged with profile" in admin_client.get(f"/customers/{a.pk}/").content.decode()


def test_read_only_role_sees_but_cannot_change(make_user):
    readonly = make_user("readonly")
    client = Client()
    client.force_login(readonly)
    customer = make_customer()
    assert client.get(f"/customers/{customer.pk}/").status_code == 200
    assert client.post(f"/customers/{customer.pk}/notes/", {"body": "x"}).status_code == 403
    assert client.get("/customers/export.csv").status_code == 403
    assert not customer.notes.exists()


def test_export_from_the_list_keeps_filters(admin_client):
    make_customer(first_name="Ayla", city="İzmir")
    make_customer(first_name="Burak", city="Ankara")
    response = admin_client.get("/customers/export.csv", {"city": "İzmir"})
    text = b"".join(response.streaming_content).decode()
    assert "Ayla" in text and "Burak" not in text


def test_custom_fields_settings_page(admin_client):
    admin_client.post("/customers/custom-fields/", {"key": "vip_level", "label": "VIP", "field_type": "number"})
    assert CustomFieldDefinition.objects.filter(key="vip_level", field_type="number").exists()
    admin_client.post("/customers/custom-fields/", {"key": "c", "label": "C", "field_type": "choice", "choices": ""})
    assert not CustomFieldDefinition.objects.filter(key="c").exists()
