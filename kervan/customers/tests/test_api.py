import csv
import datetime as dt
import io

import pytest

from kervan.core.models import AuditLog
from kervan.customers.models import Customer, CustomFieldDefinition
from kervan.customers.tests.factories import IST, make_customer, make_order

pytestmark = pytest.mark.django_db


def test_create_get_patch_roundtrip(api):
    response = api.post(
        "/customers/",
        {
            "first_name": "Işıl",
            "last_name": "Çelik",
            "email": "isil@example.com",
            "phone": "0 532 444 55 66",
            "tags": ["vip"],
            "city": "İzmir",
        },
    )
    assert response.status_code == 201, response.content
    customer_id = response.json()["id"]
    assert response.json()["phone"] == "+905324445566"
    detail = api.get(f"/customers/{customer_id}").json()
    assert detail["tags"] == ["vip"] and detail["stats"]["order_count"] == 0
    assert {"kind": "email", "value": "isil@example.com", "source": None} in detail["identities"]
    assert detail["consents"]["sms"] == {"marketing": "unknown", "transactional": "unknown"}
    patched = api.patch(f"/customers/{customer_id}", {"city": "Ankara"})
    assert patched.status_code == 200 and patched.json()["city"] == "Ankara"
    assert AuditLog.objects.filter(customer_id=customer_id, action="view").count() == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"first_name": "A", "email": "not-an-email"}, 400, "invalid_email"),
        ({"first_name": "A", "phone": "12"}, 400, "invalid_phone"),
        ({"first_name": "A", "shoe": 42}, 422, "validation_error"),
        ({"first_name": ["A"]}, 422, "validation_error"),
        ({"first_name": "A", "birth_date": "yesterday"}, 422, "validation_error"),
        ({"first_name": "A", "custom_fields": {"nope": 1}}, 400, "unknown_custom_field"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_writes_nothing(api, body, status, code):
    response = api.post("/customers/", body)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code and response.json()["detail"]
    assert Customer.objects.count() == 0


def test_malformed_json_and_unknown_ids(api):
    response = api.post("/customers/", raw="{not json")
    assert response.status_code in (400, 422) and "detail" in response.json() and "code" in response.json()
    assert Customer.objects.count() == 0
    missing = api.get("/customers/999999")
    assert missing.status_code == 404 and missing.json()["code"] == "customer_not_found"
    assert api.patch("/customers/999999", {"city": "x"}).status_code == 404
    assert api.get("/nope").status_code == 404 and api.get("/nope").json()["code"] == "not_found"


def test_unauthenticated_and_bad_keys_get_401(client):
    assert client.get("/api/v1/customers/").status_code == 401
    response = client.get("/api/v1/customers/", HTTP_AUTHORIZATION="Bearer kv_deadbeef_nope")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_list_search_is_turkish_aware_and_cursor_paginated(api):
    make_customer(first_name="Ilgın", last_name="IŞIK", city="İstanbul")
    make_customer(first_name="Can", last_name="Işıkçı", city="istanbul")
    make_customer(first_name="Deniz", last_name="Kara", city="Ankara")
    found = api.get("/customers/", {"q": "ışık"}).json()["items"]
    assert {c["last_name"] for c in found} == {"IŞIK", "Işıkçı"}
    assert len(api.get("/customers/", {"q": "İSTANBUL"}).json()["items"]) == 2
    page1 = api.get("/customers/", {"limit": 2}).json()
    page2 = api.get("/customers/", {"limit": 2, "cursor": page1["next_cursor"]}).json()
    ids = [c["id"] for c in page1["items"] + page2["items"]]
    assert len(ids) == len(set(ids)) == 3 and page2["next_cursor"] is None
    assert api.get("/customers/", {"cursor": "garbage!"}).json()["code"] == "invalid_cursor"
    assert api.get("/customers/", {"sort": "shoe"}).status_code == 400


def test_sort_by_total_spent_paginates_without_gaps(api):
    spenders = [make_customer() for _ in range(5)]
    for i, customer in enumerate(spenders):
        make_order(customer, total_lines=((1, f"{(i % 3) * 100 + 50}.00"),))
    seen, cursor = [], None
    while True:
        page = api.get("/customers/", {"sort": "total_spent", "limit": 2, **({"cursor": cursor} if cursor else {})})
        body = page.json()
        seen += [(c["stats"]["total_spent"], c["id"]) for c in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 5 and [float(s) for s, _ in seen] == sorted((float(s) for s, _ in seen), reverse=True)


def test_timeline_merges_kinds_newest_first_and_filters(api, admin_actor):
    from kervan.customers.actions import note_add
    from kervan.customers.consent import consent_record
    from kervan.events.actions import event_record

    customer = make_customer()
    make_order(customer, placed_at=dt.datetime(2026, 1, 1, tzinfo=IST))
    event_record(
        name="Viewed Product", occurred_at=dt.datetime(2026, 1, 2, tzinfo=IST), dedupe_key="v1", customer_id=customer.pk
    )
    consent_record(
        actor=admin_actor,
        customer=customer,
        channel="email",
        status="granted",
        occurred_at=dt.datetime(2026, 1, 3, tzinfo=IST),
    )
    note_add(actor=admin_actor, customer=customer, body="VIP")
    items = api.get(f"/customers/{customer.pk}/timeline").json()["items"]
    assert [i["kind"] for i in items] == ["note", "consent", "event", "order"]
    assert items[3]["data"]["status"] == "placed"  # the Placed Order event is shown once, as the order row
    only = api.get(f"/customers/{customer.pk}/timeline", {"kinds": "event,order", "limit": 1}).json()
    assert [i["kind"] for i in only["items"]] == ["event"]
    rest = api.get(f"/customers/{customer.pk}/timeline", {"kinds": "event,order", "cursor": only["next_cursor"]})
    assert [i["kind"] for i in rest.json()["items"]] == ["order"]
    assert api.get(f"/customers/{customer.pk}/timeline", {"kinds": "gossip"}).status_code == 400


def test_timeline_pages_cover_same_instant_items_exactly_once(api, admin_actor):
    from kervan.customers.consent import consent_record
    from kervan.events.actions import event_record

    customer = make_customer()
    instant = dt.datetime(2026, 4, 1, 9, tzinfo=IST)
    for n in range(4):
        event_record(name="Viewed Page", occurred_at=instant, dedupe_key=f"p{n}", customer_id=customer.pk)
        consent_record(actor=admin_actor, customer=customer, channel="sms", status="granted", occurred_at=instant)
    seen, cursor = [], None
    while True:
        body = api.get(f"/customers/{customer.pk}/timeline", {"limit": 3, **({"cursor": cursor} if cursor else {})})
        body = body.json()
        seen += [(i["kind"], i["id"]) for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 8


def test_merge_and_duplicates_via_api(api):
    a = make_customer(first_name="Elif", last_name="Şahin", city="Bursa")
    b = make_customer(first_name="ELİF", last_name="ŞAHİN", city="bursa")
    dupes = api.get(f"/customers/{a.pk}/duplicates").json()
    assert [d["customer"]["id"] for d in dupes] == [b.pk]
    response = api.post(f"/customers/{a.pk}/merge", {"merged_id": b.pk})
    assert response.status_code == 200
    assert api.get("/customers/", {"q": "elif"}).json()["items"][0]["id"] == a.pk
    assert len(api.get("/customers/", {"q": "elif"}).json()["items"]) == 1
    assert api.post(f"/customers/{a.pk}/merge", {"merged_id": a.pk}).json()["code"] == "same_customer"


def test_consent_via_api_with_iys_fields(api):
    customer = make_customer(phone="05551112233")
    response = api.post(
        f"/customers/{customer.pk}/consents",
        {
            "channel": "sms",
            "status": "granted",
            "iys_source": "HS_WEB",
            "proof": "Form v3",
            "occurred_at": "2026-06-01T10:00:00+03:00",
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["iys_channel"] == "MESAJ" and response.json()["iys_status"] == "ONAY"
    bad = api.post(f"/customers/{customer.pk}/consents", {"channel": "sms", "status": "maybe"})
    assert bad.status_code == 400 and bad.json()["field"] == "status"
    naive = api.post(
        f"/customers/{customer.pk}/consents",
        {"channel": "sms", "status": "refused", "occurred_at": "2026-06-01T10:00:00"},
    )
    assert naive.status_code == 400 and naive.json()["code"] == "naive_datetime"
    assert len(api.get(f"/customers/{customer.pk}/consents").json()) == 1


def test_custom_field_definitions_and_values(api):
    assert (
        api.post(
            "/customers/custom-fields",
            {"key": "size", "label": "Beden", "field_type": "choice", "choices": ["S", "M", "L"]},
        ).status_code
        == 201
    )
    assert (
        api.post("/customers/custom-fields", {"key": "bad key", "label": "x", "field_type": "text"}).status_code == 422
    )
    assert api.post("/customers/custom-fields", {"key": "n", "label": "x", "field_type": "blob"}).status_code == 400
    created = api.post("/customers/", {"first_name": "A", "custom_fields": {"size": "M"}})
    assert created.status_code == 201
    refused = api.post("/customers/", {"first_name": "B", "custom_fields": {"size": "XXL"}})
    assert refused.status_code == 400 and refused.json()["field"] == "size"
    assert CustomFieldDefinition.objects.get(key="size").choices == ["S", "M", "L"]


def test_export_csv_is_audited_and_formula_safe(api):
    make_customer(first_name='=HYPERLINK("x")', last_name="Öztürk", phone="05321234567")
    response = api.get("/customers/export")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["id", "first_name", "last_name"]
    assert rows[1][1].startswith("'=") and rows[1][2] == "Öztürk" and rows[1][4] == "+905321234567"
    assert AuditLog.objects.filter(action="export").count() == 1


def test_read_only_key_cannot_write_and_nothing_changes(make_api_key):
    from kervan.conftest import ApiClient

    _, secret = make_api_key({"customers": "read"})
    client = ApiClient(secret)
    response = client.post("/customers/", {"first_name": "X"})
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert Customer.objects.count() == 0
    assert client.get("/customers/").status_code == 200
    assert client.get("/customers/export").status_code == 403
