"""A person's data export and erasure (customers.privacy), with data made by the product's own actions: what the
export holds, field by field; that erasure leaves no identifying value in any row of the person (the audit log
included) while the shop's orders and revenue stay; the permission rules of the API and the pages."""

import datetime as dt
import json
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.utils import translation
from django.utils.translation import gettext

from kervan.accounts.actors import Actor
from kervan.accounts.permissions import area_keys
from kervan.accounts.testing import role_client
from kervan.core.errors import KervanError, NotFound, PermissionDenied
from kervan.core.models import AuditLog, Source
from kervan.customers.actions import customer_create, customer_merge, identity_add, note_add
from kervan.customers.consent import consent_record
from kervan.customers.custom_fields import custom_field_define
from kervan.customers.models import ConsentRecord, Customer, CustomerMerge, CustomerNote, CustomerStats, Identity
from kervan.customers.privacy import (
    consent_address_digest,
    customer_anonymise,
    customer_data_export,
    customers_anonymise_all,
)
from kervan.customers.registry import privacy_handlers
from kervan.customers.selectors import CustomerFilters, customer_list
from kervan.customers.tests.factories import make_order
from kervan.events.actions import events_ingest, tracker_site_default, tracker_site_update
from kervan.events.models import Event
from kervan.feedback.actions import review_create
from kervan.feedback.models import Review
from kervan.messaging.actions import messages_enqueue, sender_save, template_save
from kervan.messaging.models import Message, PushSubscription
from kervan.messaging.sending import deliver_due
from kervan.messaging.tests.test_push import Browser
from kervan.orders.actions import order_set_status, refund_create, return_create
from kervan.orders.daily_sales import sales_by_day
from kervan.orders.models import Order, OrderLine, OrderStatusChange, Refund, Return, Shipment

pytestmark = pytest.mark.django_db(transaction=True)

SHOP = "https://shop.example.com"
WHEN = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
VISITOR = "visitor-7f3a9c"
EMAIL, PHONE = "ayse.kaya@example.com", "+905321112233"
EMAIL_KEY = "ayse.kaya@example.com"  # the mailbox key identities and consent hold (dots fold only for Gmail)
FIRST, LAST = "Ayşe", "Kayalıoğlu"
TEMPLATE = {"tr": {"subject": "Merhaba {{ customer.first_name }}", "html": "<p>Merhaba {{ customer.first_name }}</p>"}}


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # deliver_due() sends
    settings.KERVAN_PUSH_ENDPOINT_HOSTS = ["localhost"]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin():
    return Actor.system()


def track(customer_id, n: int, *, name="Viewed Product", anonymous_id=None, properties=None):
    return SimpleNamespace(
        type="track",
        event_id=f"privacy-{n}",
        name=name,
        occurred_at=WHEN + dt.timedelta(minutes=n),
        properties=properties if properties is not None else {},
        customer_id=customer_id,
        email=None,
        phone=None,
        user_id=None,
        source=None,
        anonymous_id=anonymous_id,
    )


@pytest.fixture
def person(admin, client, smtp):
    """One person with every kind of data, each made the way the product makes it."""
    store = Source.objects.create(key="shopify-a", name="Shopify A", kind=Source.Kind.SHOPIFY)
    custom_field_define(actor=admin, key="loyalty_card", label="Sadakat kartı", field_type="text")
    customer = customer_create(
        actor=admin,
        first_name=FIRST,
        last_name=LAST,
        email=EMAIL,
        phone=PHONE,
        birth_date=dt.date(1990, 5, 17),
        gender="female",
        city="Kadıköy",
        custom_fields={"loyalty_card": "LC-884211"},
        tags=["vip"],
        source=store,
        source_customer_id="7001",
    )
    consent_record(
        actor=admin,
        customer=customer,
        channel="email",
        status="granted",
        source="checkout form",
        proof=f"Form #12, typed {EMAIL}",
        iys_source="HS_WEB",
        occurred_at=WHEN,
    )
    note_add(actor=admin, customer=customer, body=f"{FIRST} called about a late parcel")
    order = make_order(customer, total_lines=((2, "150.00"), (1, "99.90")), shipping="10", placed_at=WHEN)
    order_set_status(actor=admin, order=order, status="paid", payment={"method": "card", "reference": "PAY-1"})
    order_set_status(actor=admin, order=order, status="shipped", carrier="Yurtiçi", tracking_number="YK123456789")
    line = order.lines.order_by("id").first()
    ret, _created = return_create(
        actor=admin, order=order, lines=[{"order_line_id": line.pk, "quantity": 1}], reason="size", note="Too small"
    )
    refund_create(
        actor=admin, order=order, amount="150.00", reason="size", note=f"Refund to {FIRST}", return_request=ret
    )
    events_ingest(
        actor=admin,
        items=[
            track(
                customer.pk, 1, properties={"url": f"{SHOP}/p/1?email={EMAIL}", "ip": "203.0.113.9", "ua": "Firefox"}
            ),
            track(customer.pk, 2, name="Added to Cart", properties={"sku": "SKU-1", "email": EMAIL}),
        ],
    )
    # A visitor who browsed and subscribed to push before being recognised, then known by their visitor id.
    site = tracker_site_update(actor=admin, site=tracker_site_default(actor=admin), allowed_origins=[SHOP])
    events_ingest(
        actor=admin, items=[track(None, 3, name="Viewed Page", anonymous_id=VISITOR, properties={"path": "/"})]
    )
    browser = Browser(endpoint="https://localhost/push/abc123")
    body = {"key": site.public_key, "subscription": browser.info(), "anonymous_id": VISITOR}
    response = client.post("/m/push/subscribe", json.dumps(body), content_type="text/plain", HTTP_ORIGIN=SHOP)
    assert response.status_code in (200, 201), response.content
    identity_add(actor=admin, customer=customer, kind="anonymous", value=VISITOR)
    template = template_save(actor=admin, name="Hoş geldin", channel="email", purpose="marketing", content=TEMPLATE)
    sender = sender_save(actor=admin, channel="email", address="merhaba@shop.example.com", name="Dükkan")
    messages_enqueue(
        origin="test:privacy",
        customer_ids=[customer.pk],
        channel="email",
        purpose="marketing",
        template=template,
        sender=sender,
    )
    assert deliver_due(worker="w1") == {"sent": 1}
    review_create(actor=admin, order=order, rating=4, submitted_at=WHEN, title="Güzel", text=f"{FIRST} K. beğendi")
    customer.refresh_from_db()
    return SimpleNamespace(customer=customer, order=order, store=store, browser=browser)


def test_the_export_holds_everything_kervan_knows_about_the_person(admin, person):
    data = customer_data_export(actor=admin, customer=person.customer)
    json.dumps(data)  # JSON as it is: Decimals are strings, times ISO 8601
    profile = data["customer"]
    assert profile["id"] == person.customer.pk
    assert (profile["first_name"], profile["last_name"], profile["email"], profile["phone"]) == (
        FIRST,
        LAST,
        EMAIL,
        PHONE,
    )
    assert (profile["birth_date"], profile["gender"], profile["city"]) == ("1990-05-17", "female", "Kadıköy")
    assert profile["custom_fields"] == {"loyalty_card": "LC-884211"}
    assert profile["tags"] == ["vip"]
    assert profile["source"] == "Shopify A"
    assert profile["anonymised_at"] is None
    assert profile["consent"]["consent_email"] == "granted"
    assert sorted((i["kind"], i["value"], i["source"]) for i in data["identities"]) == [
        ("anonymous", VISITOR, None),
        ("email", EMAIL_KEY, None),
        ("phone", PHONE, None),
        ("source_id", "7001", "Shopify A"),
    ]
    [consent] = data["consents"]
    assert {k: consent[k] for k in ("channel", "purpose", "status", "source", "proof", "iys_source", "iys_status")} == {
        "channel": "email",
        "purpose": "marketing",
        "status": "granted",
        "source": "checkout form",
        "proof": f"Form #12, typed {EMAIL}",
        "iys_source": "HS_WEB",
        "iys_status": "ONAY",
    }
    assert consent["address"] == EMAIL_KEY
    assert consent["occurred_at"] == WHEN.isoformat()
    assert [n["body"] for n in data["notes"]] == [f"{FIRST} called about a late parcel"]

    [order] = data["orders"]
    assert (order["number"], order["status"], order["currency"]) == (person.order.number, "shipped", "TRY")
    assert (order["subtotal"], order["shipping_total"], order["total"], order["refunded_total"]) == (
        "399.90",
        "10.00",
        "409.90",
        "150.00",
    )
    assert [(ln["title"], ln["quantity"], ln["unit_price"], ln["returned_quantity"]) for ln in order["lines"]] == [
        ("Ürün 0", 2, "150.00", 1),
        ("Ürün 1", 1, "99.90", 0),
    ]
    assert [(p["method"], p["amount"], p["reference"]) for p in order["payments"]] == [("card", "409.90", "PAY-1")]
    assert [(s["carrier"], s["tracking_number"]) for s in order["shipments"]] == [("Yurtiçi", "YK123456789")]
    [ret] = order["returns"]
    assert (ret["reason"], ret["note"], ret["lines"]) == (
        "size",
        "Too small",
        [{"order_line__sku": "", "order_line__title": "Ürün 0", "quantity": 1}],
    )
    assert [(r["amount"], r["reason"], r["note"]) for r in order["refunds"]] == [
        ("150.00", "size", f"Refund to {FIRST}")
    ]
    assert [s["status"] for s in order["status_changes"]] == ["placed", "paid", "shipped"]

    events = {(e["name"], e["anonymous_id"]): e for e in data["events"]}
    viewed = events[("Viewed Product", "")]
    assert viewed["occurred_at"] == (WHEN + dt.timedelta(minutes=1)).isoformat()
    assert viewed["properties"] == {"url": f"{SHOP}/p/1?email={EMAIL}", "ip": "203.0.113.9", "ua": "Firefox"}
    assert events[("Added to Cart", "")]["properties"] == {"sku": "SKU-1", "email": EMAIL}
    assert events[("Viewed Page", VISITOR)]["properties"] == {"path": "/"}  # browsed before being known
    assert "Placed Order" in {name for name, _visitor in events}

    [message] = data["messages"]
    assert (message["channel"], message["status"], message["to_address"], message["subject"]) == (
        "email",
        "sent",
        EMAIL,
        f"Merhaba {FIRST}",
    )
    assert message["template"] == "Hoş geldin" and message["sent_at"]
    assert [s["endpoint"] for s in data["push_subscriptions"]] == [person.browser.endpoint]
    assert [(r["rating"], r["title"], r["text"]) for r in data["reviews"]] == [(4, "Güzel", f"{FIRST} K. beğendi")]
    for section in ("merges", "merged_profiles", "segments", "segment_changes", "predictions", "flow_runs"):
        assert data[section] == [], section

    row = AuditLog.objects.filter(customer_id=person.customer.pk, action="export").get()
    assert "orders" in row.changes["personal_data_export"] and EMAIL not in json.dumps(row.changes)


def _rows_of(customer_ids) -> str:
    """Every row Kervan keeps about these customers, as text: the scan an erasure must leave clean."""
    ids = list(customer_ids)
    parts = [
        Customer.objects.filter(pk__in=ids).values(),
        Identity.objects.filter(customer_id__in=ids).values(),
        ConsentRecord.objects.filter(customer_id__in=ids).values(),
        CustomerNote.objects.filter(customer_id__in=ids).values(),
        CustomerMerge.objects.filter(survivor_id__in=ids).values(),
        AuditLog.objects.filter(customer_id__in=ids).values(),
        Event.objects.filter(customer_id__in=ids).values(),
        Event.objects.filter(anonymous_id=VISITOR).values(),
        Message.objects.filter(customer_id__in=ids).values(),
        PushSubscription.objects.values(),
        Order.objects.filter(customer_id__in=ids).values(),
        OrderLine.objects.filter(order__customer_id__in=ids).values(),
    ]
    parts += [
        Review.objects.filter(customer_id__in=ids).values(),
        Shipment.objects.filter(order__customer_id__in=ids).values(),
        Return.objects.filter(customer_id__in=ids).values(),
        Refund.objects.filter(customer_id__in=ids).values(),
        OrderStatusChange.objects.filter(customer_id__in=ids).values(),
    ]
    return json.dumps([list(p) for p in parts], default=str, ensure_ascii=False)


IDENTIFYING = (EMAIL, "ayse.kaya", PHONE, "5321112233", FIRST, LAST, "Kadıköy", "1990-05-17", "LC-884211", VISITOR,
               "7001", "203.0.113.9", "YK123456789", "localhost/push/abc123")  # fmt: skip


def test_anonymise_erases_every_identifying_value_and_keeps_the_books(admin, person):
    customer = person.customer
    before = _rows_of([customer.pk])
    assert [v for v in IDENTIFYING if v not in before] == []
    stats = CustomerStats.objects.filter(pk=customer.pk).values().get()
    revenue = sales_by_day(dt.date(2026, 2, 28), dt.date(2026, 3, 2))
    events_before = Event.objects.filter(customer=customer).count()
    order_figures = list(Order.objects.values("total", "refunded_total", "subtotal", "tax_total", "status", "number"))

    result = customer_anonymise(actor=admin, customer=customer, reason="The customer asked to be forgotten")

    after = _rows_of([customer.pk])
    assert [v for v in IDENTIFYING if v in after] == []
    assert result.anonymised_at is not None
    assert (result.first_name, result.email, result.phone, result.city, result.birth_date) == ("", "", "", "", None)
    assert result.custom_fields == {} and result.search_key == "" and result.email_key == ""
    assert list(result.tags.values_list("name", flat=True)) == ["anonymised"]
    assert result.country == "TR"  # not identifying on its own: the country reports still count the customer
    assert not Identity.objects.filter(customer=customer).exists()
    assert not CustomerNote.objects.filter(customer=customer).exists()
    assert not PushSubscription.objects.exists()
    # The books: orders, amounts, customer totals and the day's revenue are unchanged.
    assert list(Order.objects.values("total", "refunded_total", "subtotal", "tax_total", "status", "number")) == (
        order_figures
    )
    assert CustomerStats.objects.filter(pk=customer.pk).values().get() == stats
    assert sales_by_day(dt.date(2026, 2, 28), dt.date(2026, 3, 2)) == revenue
    # Events keep name and time; consent keeps the record, its address a keyed hash.
    kept = list(Event.objects.filter(customer=customer).values_list("name", "properties", "anonymous_id"))
    assert len(kept) == events_before and all(p == {} and a == "" for _name, p, a in kept)
    assert Event.objects.filter(customer=customer, name="Viewed Product", occurred_at=WHEN + dt.timedelta(minutes=1))
    [consent] = ConsentRecord.objects.filter(customer=customer)
    assert consent.status == "granted" and consent.occurred_at == WHEN and consent.iys_source == "HS_WEB"
    assert consent.address == consent_address_digest(EMAIL_KEY)
    assert consent.proof == "Form #12, typed [erased]"
    [message] = Message.objects.filter(customer=customer)
    assert (message.status, message.to_address, message.subject, message.channel) == ("sent", "", "", "email")
    assert message.sent_at is not None
    # The audit log keeps what was done and to which fields, never the old values; the erasure names its reason.
    row = AuditLog.objects.filter(customer_id=customer.pk, changes__has_key="anonymised").get()
    assert row.action == "delete"
    assert row.changes["anonymised"]["reason"] == "The customer asked to be forgotten"
    assert {"customers.Customer.email", "customers.Identity", "events.Event.properties"} <= set(
        row.changes["anonymised"]["erased"]
    )
    created = AuditLog.objects.filter(customer_id=customer.pk, action="create", object_type="customers.customer").get()
    assert created.changes["email"] == "[erased]"


def test_a_second_anonymise_changes_nothing(admin, person):
    customer_anonymise(actor=admin, customer=person.customer, reason="asked")
    snapshot, audits = _rows_of([person.customer.pk]), AuditLog.objects.count()
    again = customer_anonymise(actor=admin, customer=person.customer, reason="asked again")
    assert _rows_of([person.customer.pk]) == snapshot
    assert AuditLog.objects.count() == audits
    assert again.anonymised_at == Customer.objects.get(pk=person.customer.pk).anonymised_at


def test_anonymise_follows_the_profiles_merged_into_the_person(admin, person):
    other = customer_create(
        actor=admin, first_name="Ayşe", last_name="K.", email="ayse.k@example.org", phone="+905559998877"
    )
    note_add(actor=admin, customer=other, body="second profile from the shop")
    customer_merge(actor=admin, survivor=person.customer, merged=other)
    data = customer_data_export(actor=admin, customer=other)  # an old id: the person it became
    assert data["customer"]["id"] == person.customer.pk
    assert [p["email"] for p in data["merged_profiles"]] == ["ayse.k@example.org"]
    assert [m["snapshot"]["email"] for m in data["merges"]] == ["ayse.k@example.org"]

    customer_anonymise(actor=admin, customer=other, reason="asked")  # through the merged-away id
    after = _rows_of([person.customer.pk, other.pk])
    assert [v for v in (*IDENTIFYING, "ayse.k@example.org", "+905559998877", "5559998877") if v in after] == []
    assert Customer.objects.get(pk=other.pk).anonymised_at is not None
    assert CustomerMerge.objects.get().snapshot == {"id": other.pk, "erased": True}


def test_an_anonymised_customer_is_out_of_search_and_marketing(admin, person, smtp):
    received = len(smtp.received)
    customer_anonymise(actor=admin, customer=person.customer, reason="asked")
    for words in (FIRST, EMAIL, PHONE, "Kadıköy"):
        rows, _order = customer_list(actor=admin, filters=CustomerFilters(q=words))
        assert not rows.exists(), words
    template = template_save(actor=admin, name="Kampanya", channel="email", purpose="marketing", content=TEMPLATE)
    messages_enqueue(
        origin="campaign:99",
        customer_ids=[person.customer.pk],
        channel="email",
        purpose="marketing",
        template=template,
    )
    assert deliver_due(worker="w1") == {"skipped": 1}
    assert Message.objects.get(origin="campaign:99").skip_reason == "no_address"
    assert len(smtp.received) == received  # only the welcome email sent before the erasure


def test_a_removed_store_erases_only_the_customers_known_only_through_it(admin):
    a = Source.objects.create(key="shop-a", name="Shop A", kind=Source.Kind.SHOPIFY)
    b = Source.objects.create(key="shop-b", name="Shop B", kind=Source.Kind.SHOPIFY)
    only_a = [
        customer_create(actor=admin, email=f"a{i}@example.com", source=a, source_customer_id=f"A{i}") for i in range(3)
    ]
    both = customer_create(actor=admin, email="both@example.com", source=a, source_customer_id="A9")
    identity_add(actor=admin, customer=both, kind="source_id", value="B9", source=b)
    only_b = customer_create(actor=admin, email="b@example.com", source=b, source_customer_id="B1")
    manual = customer_create(actor=admin, email="manual@example.com")
    make_order(only_a[0])

    assert customers_anonymise_all(actor=admin, source=a, reason="shop/redact from Shop A") == 3
    assert set(Customer.objects.filter(anonymised_at__isnull=False).values_list("pk", flat=True)) == {
        c.pk for c in only_a
    }
    for kept in (both, only_b, manual):
        kept.refresh_from_db()
        assert kept.email and kept.anonymised_at is None
    assert Order.objects.filter(customer=only_a[0]).count() == 1
    assert customers_anonymise_all(actor=admin, source=a, reason="again") == 0


def test_refusals_change_nothing(person):
    marketing = Actor.for_user(role_client("marketing").user)
    before = _rows_of([person.customer.pk])
    with pytest.raises(PermissionDenied):
        customer_anonymise(actor=marketing, customer=person.customer, reason="x")
    with pytest.raises(PermissionDenied):
        customer_data_export(actor=marketing, customer=person.customer)
    with pytest.raises(KervanError) as refused:
        customer_anonymise(actor=Actor.system(), customer=person.customer, reason="  ")
    assert (refused.value.code, refused.value.field) == ("missing_reason", "reason")
    with pytest.raises(KervanError) as refused:
        customer_anonymise(actor=Actor.system(), customer=person.customer, reason="x" * 501)
    assert refused.value.code == "too_long"
    with pytest.raises(NotFound):
        customer_anonymise(actor=Actor.system(), customer=Customer(pk=10**12), reason="x")
    assert _rows_of([person.customer.pk]) == before


def test_every_model_that_points_at_a_customer_has_a_privacy_handler():
    from django.apps import apps

    covered = {m for h in privacy_handlers() for m in h.models}
    core = {"customers.Customer", "customers.Identity", "customers.CustomerNote", "customers.CustomerMerge",
            "customers.ConsentRecord", "customers.CustomerStats", "core.AuditLog"}  # fmt: skip
    pointing = set()
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            target = getattr(field.remote_field, "model", None)
            if target is Customer or field.name == "customer_id":
                pointing.add(model._meta.label)
    assert pointing - covered - core == set()


# --- the API and the pages -----------------------------------------------------------------------------------------


def _api(make_api_key, scopes):
    from kervan.conftest import ApiClient

    _key, secret = make_api_key(scopes)
    return ApiClient(secret)


def test_api_export_and_anonymise(make_api_key, person):
    admin_key = _api(make_api_key, {d: "write" for d in area_keys()})
    response = admin_key.post(f"/customers/{person.customer.pk}/export")
    assert response.status_code == 200
    assert response.json()["customer"]["email"] == EMAIL
    assert response.json()["orders"][0]["total"] == "409.90"

    response = admin_key.post(f"/customers/{person.customer.pk}/anonymise", {"reason": "asked by email"})
    assert response.status_code == 200
    body = response.json()
    assert (body["email"], body["first_name"], body["phone"]) == ("", "", "")
    assert body["anonymised_at"]
    assert admin_key.post(f"/customers/{person.customer.pk}/anonymise", {"reason": "again"}).status_code == 200


def test_api_refuses_non_admin_keys_and_unknown_ids(make_api_key, person):
    without = {d: "write" for d in area_keys() if d != "privacy"}
    other = _api(make_api_key, without)
    before = _rows_of([person.customer.pk])
    for path, payload in (("export", None), ("anonymise", {"reason": "x"})):
        response = other.post(f"/customers/{person.customer.pk}/{path}", payload)
        assert response.status_code == 403, path
        assert response.json()["code"] == "permission_denied"
    assert _rows_of([person.customer.pk]) == before
    admin_key = _api(make_api_key, {d: "write" for d in area_keys()})
    for path, payload in (("export", None), ("anonymise", {"reason": "x"})):
        response = admin_key.post(f"/customers/999999/{path}", payload)
        assert response.status_code == 404, path
        assert response.json()["code"] == "customer_not_found"
    response = admin_key.post(f"/customers/{person.customer.pk}/anonymise", {"reason": ""})
    assert (response.status_code, response.json()["code"]) == (400, "missing_reason")
    response = admin_key.post(f"/customers/{person.customer.pk}/anonymise", {})
    assert response.status_code == 422
    assert _rows_of([person.customer.pk]) == before


@pytest.mark.parametrize(("language", "menu"), [("en", "Customers"), ("tr", "Müşteriler")])
def test_the_360_page_buttons_and_the_confirmation(person, language, menu):
    with translation.override(language):  # the page's words in its language, as the catalogue has them
        expected = [gettext(t) for t in ("Export personal data", "Type ANONYMISE to confirm", "Anonymised customer")]
    admin = role_client("admin", language=language)
    admin.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
    pk = person.customer.pk
    page = admin.get(f"/customers/{pk}/").content.decode()
    assert f'lang="{language}"' in page and menu in page
    assert expected[0] in page and 'id="personal-data-export"' in page and 'id="anonymise"' in page

    download = admin.post(f"/customers/{pk}/personal-data/")
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="customer-{pk}-personal-data.json"'
    assert json.loads(download.content)["customer"]["email"] == EMAIL

    form = admin.get(f"/customers/{pk}/anonymise/").content.decode()
    assert EMAIL in form and 'name="confirm"' in form and menu in form
    wrong = admin.post(f"/customers/{pk}/anonymise/", {"reason": "asked", "confirm": "someone@else.com"})
    assert wrong.status_code == 200 and Customer.objects.get(pk=pk).anonymised_at is None
    done = admin.post(f"/customers/{pk}/anonymise/", {"reason": "asked", "confirm": EMAIL.upper()})
    assert done.status_code == 302 and Customer.objects.get(pk=pk).anonymised_at is not None

    page = admin.get(f"/customers/{pk}/").content.decode()
    assert expected[2] in page and 'id="anonymised-at"' in page and EMAIL not in page and FIRST not in page
    assert 'id="anonymise"' not in page
    form = admin.get(f"/customers/{pk}/anonymise/").content.decode()  # no email any more: the word only
    assert expected[1] in form
    listing = admin.get("/customers/")
    assert listing.status_code == 200 and EMAIL not in listing.content.decode()


def test_the_pages_refuse_other_roles(person):
    for role in ("marketing", "sales", "support", "analyst", "readonly"):
        client = role_client(role)
        page = client.get(f"/customers/{person.customer.pk}/").content.decode()
        assert 'id="personal-data-export"' not in page and 'id="anonymise"' not in page
        assert client.post(f"/customers/{person.customer.pk}/personal-data/").status_code == 403
        refused = client.post(f"/customers/{person.customer.pk}/anonymise/", {"reason": "x", "confirm": "ANONYMISE"})
        assert refused.status_code == 403
    assert Customer.objects.get(pk=person.customer.pk).anonymised_at is None


def test_the_digest_is_keyed_and_stable():
    assert consent_address_digest("+905321112233") == consent_address_digest("+905321112233")
    assert consent_address_digest("+905321112233").startswith("erased:")
    assert "5321112233" not in consent_address_digest("+905321112233")
    assert consent_address_digest("") == ""
    assert consent_address_digest(consent_address_digest("+905321112233")) == consent_address_digest("+905321112233")
