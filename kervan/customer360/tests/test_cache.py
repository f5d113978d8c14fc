"""The Customer 360 cache never shows what has changed since: every kind of change reaches the API and the page."""

import re

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from kervan.accounts.actors import Actor
from kervan.accounts.testing import login_client, make_role_user
from kervan.accounts.two_factor import SESSION_VERIFIED
from kervan.customers import cache as c360
from kervan.customers.actions import customer_merge, customer_update, identity_add, note_add
from kervan.customers.consent import consent_record
from kervan.customers.custom_fields import custom_field_define
from kervan.customers.models import Customer
from kervan.customers.registry import timeline_sources
from kervan.customers.tests.factories import make_customer, make_order
from kervan.feedback.actions import review_create
from kervan.orders.actions import order_set_status, refund_create, return_create
from kervan.support.chat_actions import chat_post, chat_start
from kervan.support.csat import csat_answer
from kervan.support.ticket_actions import ticket_create, ticket_reply, ticket_set_status

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()


def test_an_entry_built_across_a_change_is_never_served():
    builds = []

    def build_while_someone_changes_the_customer():
        builds.append(1)
        if len(builds) == 1:
            c360.customers_changed([7])  # a write commits while this reader is still building
        return len(builds)

    assert c360.cached_360(7, "api", build_while_someone_changes_the_customer) == 1
    # The first entry was filed under the version the change forgot, so the next read builds afresh…
    assert c360.cached_360(7, "api", build_while_someone_changes_the_customer) == 2
    # …and keeps it until the next change.
    assert c360.cached_360(7, "api", build_while_someone_changes_the_customer) == 2
    c360.everything_changed()
    assert c360.cached_360(7, "api", build_while_someone_changes_the_customer) == 3


def _track(api, customer, name="Viewed Product"):
    response = api.post(
        "/events/track",
        {
            "event_id": f"ev-{customer.pk}-{name}",
            "name": name,
            "customer_id": customer.pk,
            "occurred_at": timezone.now().isoformat(),
            "properties": {"sku": "KRV-1"},
        },
    )
    assert response.status_code == 202, response.content


CHANGES = {
    "profile": (
        lambda api, c: customer_update(actor=SYSTEM, customer=c, city="Trabzon"),
        lambda out: out["city"] == "Trabzon",
    ),
    "tags": (
        lambda api, c: customer_update(actor=SYSTEM, customer=c, tags=["vip"]),
        lambda out: out["tags"] == ["vip"],
    ),
    "identity": (
        lambda api, c: identity_add(actor=SYSTEM, customer=c, kind="phone", value="0532 111 22 33"),
        lambda out: {"kind": "phone", "value": "+905321112233", "source": None} in out["identities"],
    ),
    "consent": (
        lambda api, c: consent_record(actor=SYSTEM, customer=c, channel="sms", purpose="marketing", status="granted"),
        lambda out: out["consent"]["sms"] == "granted" and out["consents"]["sms"]["marketing"] == "granted",
    ),
    "order": (
        lambda api, c: make_order(c, total_lines=((1, "250.00"),)),
        lambda out: out["stats"]["order_count"] == 1 and out["stats"]["total_spent"] == "250.00",
    ),
    "refund": (
        lambda api, c: refund_create(actor=SYSTEM, order=c.orders.get(), amount="40.00"),
        lambda out: out["stats"]["refunded_total"] == "40.00",
    ),
    "event": (
        lambda api, c: _track(api, c),
        lambda out: out["stats"]["last_event_at"] is not None,
    ),
    "identify": (
        lambda api, c: api.post("/events/identify", {"email": c.email, "anonymous_id": "visitor-9"}),
        lambda out: {"kind": "anonymous", "value": "visitor-9", "source": None} in out["identities"],
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_api_360_shows_each_change_at_once(api, change):
    customer = make_customer(city="İzmir")
    if change == "refund":
        make_order(customer, total_lines=((1, "100.00"),))
    apply, shows = CHANGES[change]
    before = api.get(f"/customers/{customer.pk}").json()
    assert not shows(before)
    apply(api, Customer.objects.get(pk=customer.pk))
    after = api.get(f"/customers/{customer.pk}")
    assert after.status_code == 200 and shows(after.json()), after.json()


def test_api_360_after_merge_and_delete(api):
    survivor, merged = make_customer(), make_customer()
    api.get(f"/customers/{merged.pk}")
    customer_merge(actor=SYSTEM, survivor=survivor, merged=merged)
    moved = api.get(f"/customers/{merged.pk}").json()  # an old id answers with the survivor's 360
    assert moved["id"] == survivor.pk and moved["merged_into_id"] is None
    assert merged.email in {i["value"] for i in api.get(f"/customers/{survivor.pk}").json()["identities"]}
    gone = make_customer()
    api.get(f"/customers/{gone.pk}")
    assert api.delete(f"/customers/{gone.pk}").status_code == 204
    assert api.get(f"/customers/{gone.pk}").json()["code"] == "customer_not_found"


def test_page_shows_notes_status_events_and_new_custom_fields(admin_client, api):
    customer = make_customer()
    order = make_order(customer)
    page = lambda: admin_client.get(f"/customers/{customer.pk}/").content.decode()  # noqa: E731
    assert "Allergic to wool" not in page()
    note_add(actor=SYSTEM, customer=customer, body="Allergic to wool")
    assert "Allergic to wool" in page()
    assert f"Order {order.number} paid" not in page()
    order_set_status(actor=SYSTEM, order=order, status="paid")
    assert f"Order {order.number} paid" in page()
    _track(api, customer, name="Added to Cart")
    assert "Added to Cart" in page()
    custom_field_define(actor=SYSTEM, key="shoe_size", label="Shoe size", field_type="number")
    assert "Shoe size" in page()


def test_page_is_cached_per_role_and_language():
    customer = make_customer()
    admin = login_client(make_role_user("admin"))
    reader = login_client(make_role_user("readonly"))
    turkish = login_client(make_role_user("support", language="tr"))
    turkish.cookies[settings.LANGUAGE_COOKIE_NAME] = "tr"  # what logging in sets for a Turkish user
    assert "Add note" in admin.get(f"/customers/{customer.pk}/").content.decode()
    as_reader = reader.get(f"/customers/{customer.pk}/").content.decode()
    assert "Add note" not in as_reader and "Total spent" in as_reader
    as_turk = turkish.get(f"/customers/{customer.pk}/").content.decode()
    assert "Toplam harcama" in as_turk and "Total spent" not in as_turk


def _note_form_token(body: str) -> str:
    form = body.split('action="/customers/')[1]
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)


def test_a_cached_page_carries_each_viewers_own_csrf_token():
    customer = make_customer()
    first, second = make_role_user("admin"), make_role_user("admin")
    for user in (first, second):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        session = client.session
        session[SESSION_VERIFIED] = True
        session.save()
        body = client.get(f"/customers/{customer.pk}/").content.decode()
        token = _note_form_token(body)
        posted = client.post(
            f"/customers/{customer.pk}/notes/", {"body": f"note by {user.username}", "csrfmiddlewaretoken": token}
        )
        assert posted.status_code == 302, posted.status_code
    assert customer.notes.count() == 2


def test_cached_page_follows_a_merge(admin_client):
    survivor, merged = make_customer(), make_customer()
    assert admin_client.get(f"/customers/{merged.pk}/").status_code == 200
    customer_merge(actor=SYSTEM, survivor=survivor, merged=merged)
    assert admin_client.get(f"/customers/{merged.pk}/").url == f"/customers/{survivor.pk}/"


def test_what_a_cached_page_fills_in_per_response_is_escaped():
    customer = make_customer()
    viewer = make_role_user("admin", first_name="<b>Ali</b>", last_name="Veli")
    client = login_client(viewer)
    client.get(f"/customers/{customer.pk}/")  # cached now
    body = client.get(f"/customers/{customer.pk}/", {"utm": '"><script>alert(1)</script>'}).content.decode()
    assert "<script>alert(1)" not in body
    assert f'name="next" value="/customers/{customer.pk}/?utm=%22%3E%3Cscript%3E' in body  # this page, this query
    assert "<b>Ali</b>" not in body and "&lt;b&gt;Ali&lt;/b&gt; Veli · Admin" in body
    assert "kervan-hole" not in body


def test_renaming_a_note_author_or_a_source_reaches_cached_pages(admin_client):
    from django.contrib.auth.models import update_last_login

    from kervan.core.models import Source

    customer = make_customer(city="İzmir")
    shop = Source.objects.create(key="shop", name="Eski Mağaza", kind=Source.Kind.SHOPIFY)
    identity_add(actor=SYSTEM, customer=customer, kind="source_id", value="123", source=shop)
    writer = make_role_user("support", username="yazar", first_name="Deniz", last_name="Kaya")
    note_add(actor=Actor.for_user(writer), customer=customer, body="Called back")
    page = lambda: admin_client.get(f"/customers/{customer.pk}/").content.decode()  # noqa: E731
    assert "Deniz Kaya" in page() and "Eski Mağaza" in page()

    update_last_login(None, writer)  # a login saves the user without renaming anyone
    Customer.objects.filter(pk=customer.pk).update(city="Gizli")  # written behind the cache's back
    assert "Gizli" not in page()  # so the cached page is still served: a login does not empty the cache

    writer.first_name = "Derya"
    writer.save()
    html = page()
    assert "Derya Kaya" in html and "Deniz Kaya" not in html
    shop.name = "Yeni Mağaza"
    shop.save()
    assert "Yeni Mağaza" in page()


def _return(customer):
    order = customer.orders.get()
    order_set_status(actor=SYSTEM, order=order, status="paid")
    return_create(
        actor=SYSTEM, order=order, lines=[{"order_line_id": order.lines.get().pk, "quantity": 1}], reason="size"
    )


# One case per kind of entry the 360 timeline shows (the registry's timeline sources): the change, and the text the
# next page must show. A new source without a case here fails test_every_timeline_kind_has_a_freshness_case.
PAGE_CHANGES = {
    "event": (lambda api, c: _track(api, c, name="Started Checkout"), "Started Checkout"),
    "order": (lambda api, c: order_set_status(actor=SYSTEM, order=c.orders.get(), status="paid"), "paid"),
    "return": (lambda api, c: _return(c), "Return on order"),
    "refund": (lambda api, c: refund_create(actor=SYSTEM, order=c.orders.get(), amount="10.00"), "Refund on order"),
    "note": (lambda api, c: note_add(actor=SYSTEM, customer=c, body="Prefers SMS"), "Prefers SMS"),
    "merge": (lambda api, c: customer_merge(actor=SYSTEM, survivor=c, merged=make_customer()), "Merged with profile"),
    "consent": (
        lambda api, c: consent_record(actor=SYSTEM, customer=c, channel="email", purpose="marketing", status="refused"),
        "Email consent refused",
    ),
    "review": (
        lambda api, c: review_create(actor=SYSTEM, order=c.orders.get(), rating=5, submitted_at=timezone.now()),
        "Submitted Review",
    ),
    "chat": (
        lambda api, c: chat_post(
            conversation=chat_start(email=c.email, language="tr"), sender="visitor", body="Kargom nerede kaldı?"
        ),
        "Kargom nerede kaldı?",
    ),
    "csat": (
        lambda api, c: csat_answer(
            survey=ticket_set_status(
                actor=SYSTEM,
                ticket=ticket_create(
                    actor=SYSTEM, customer=c, requester_email="csat@example.com", subject="S", body="?"
                ),
                status="solved",
            ).surveys.get(),
            score=5,
            comment="Çok hızlı",
        ),
        "Çok hızlı",
    ),
    "ticket": (
        lambda api, c: ticket_create(actor=SYSTEM, customer=c, subject="Kargo gecikti", body="?"),
        "Kargo gecikti",
    ),
    "ticket_message": (
        lambda api, c: ticket_reply(
            actor=SYSTEM,
            ticket=ticket_create(actor=SYSTEM, customer=c, subject="S", body="?"),
            body="Yarın teslim edilecek.",
        ),
        "Yarın teslim edilecek.",
    ),
}


def test_every_timeline_kind_has_a_freshness_case():
    assert set(PAGE_CHANGES) == {source.kind for source in timeline_sources()}


@pytest.mark.parametrize("kind", list(PAGE_CHANGES))
def test_page_shows_each_kind_of_change_at_once(admin_client, api, kind):
    customer = make_customer()
    make_order(customer, total_lines=((1, "100.00"),))
    apply, text = PAGE_CHANGES[kind]
    page = lambda: admin_client.get(f"/customers/{customer.pk}/").content.decode()  # noqa: E731
    assert text not in page()  # and the page is cached now
    apply(api, Customer.objects.get(pk=customer.pk))
    assert text in page()


def test_the_recent_orders_card_shows_a_new_order(admin_client):
    customer = make_customer()
    page = lambda: admin_client.get(f"/customers/{customer.pk}/").content.decode()  # noqa: E731
    assert "Recent orders" not in page()
    order = make_order(customer)
    html = page()
    assert "Recent orders" in html and f">{order.number}</a>" in html
