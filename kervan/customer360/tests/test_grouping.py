"""The 360 timeline shows an order once, when it last moved, with the status steps it went through under it; the
kind filter applies at once (htmx, no button); consent badges say their state in words; events read in the UI
language."""

import datetime as dt
import re

import pytest
from django.conf import settings

from kervan.accounts.actors import Actor
from kervan.accounts.testing import login_client, make_role_user
from kervan.catalog.actions import product_create
from kervan.customer360.timeline import customer_timeline
from kervan.customers.actions import note_add
from kervan.customers.consent import consent_record
from kervan.customers.tests.factories import IST, make_customer, make_order
from kervan.events.actions import event_record
from kervan.orders.actions import order_set_status

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
T0 = dt.datetime(2026, 3, 1, 10, 0, tzinfo=IST)


def _at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def _story(customer):
    """Order A placed, a note, A paid, a product viewed, order B placed, A shipped: newest first that is A (shipped),
    B, the view, the note — A once, with its three steps."""
    shirt = product_create(actor=SYSTEM, title="Keten gömlek", variants=[{"sku": "KG-1", "price": "10"}])
    first = make_order(customer, placed_at=_at(0))
    note = note_add(actor=SYSTEM, customer=customer, body="Aradı, beden sordu")
    order_set_status(actor=SYSTEM, order=first, status="paid", occurred_at=_at(2))
    event_record(
        name="Viewed Product",
        occurred_at=_at(3),
        dedupe_key="grouping:view",
        customer_id=customer.pk,
        properties={"product_id": shirt.pk},
    )
    second = make_order(customer, placed_at=_at(4))
    order_set_status(
        actor=SYSTEM, order=first, status="shipped", occurred_at=_at(5), carrier="Yurtiçi", tracking_number="YK123"
    )
    return first, second, note


def test_an_order_is_one_entry_with_its_steps_and_pages_exactly_once(system_actor):
    customer = make_customer()
    first, second, note = _story(customer)
    items, _cursor = customer_timeline(actor=system_actor, customer_id=customer.pk, kinds=["order"], limit=30)
    assert [item.obj.order_id for item in items] == [first.pk, second.pk]
    assert [item.occurred_at for item in items] == [_at(5), _at(4)]  # each when it last moved

    everything, _cursor = customer_timeline(actor=system_actor, customer_id=customer.pk, limit=30)
    expected = [(i.kind, i.id) for i in everything]
    assert [kind for kind, _id in expected if kind in ("order", "event")] == ["order", "order", "event"]
    for limit in (1, 2, 3):
        seen, cursor = [], None
        while True:
            items, cursor = customer_timeline(actor=system_actor, customer_id=customer.pk, cursor=cursor, limit=limit)
            seen += [(i.kind, i.id) for i in items]
            if not cursor:
                break
        assert seen == expected, limit


def test_the_page_and_the_api_show_the_steps_under_the_order(admin_client, api):
    customer = make_customer()
    first, second, _note = _story(customer)
    body = admin_client.get(f"/customers/{customer.pk}/").content.decode()
    entries = re.findall(r'<li class="tl-order">(.*?)</li>\s*(?=<li|$)', body, re.S)
    assert len(entries) == 2
    shipped = next(e for e in entries if f"Order {first.number} shipped" in e)
    steps = re.findall(r'<span class="step-title">([^<]+)</span>', shipped)
    assert steps == ["Placed", "Paid", "Shipped"]
    assert "01.03.2026 12:00" in shipped and "Yurtiçi YK123" in shipped
    assert body.count(f"Order {first.number}") == 1  # placed and paid are not entries of their own
    placed = next(e for e in entries if f"Order {second.number} placed" in e)
    assert "step-title" not in placed  # one step: the title says it all
    event = re.search(r'<li class="tl-event">(.*?)</li>', body, re.S).group(1)
    assert "Viewed Product" in event and "Product: Keten gömlek" in event

    items = api.get(f"/customers/{customer.pk}/timeline", {"kinds": "order"}).json()["items"]
    assert [i["data"]["order_id"] for i in items] == [first.pk, second.pk]
    assert [s["status"] for s in items[0]["data"]["steps"]] == ["placed", "paid", "shipped"]
    assert items[0]["data"]["carrier"] == "Yurtiçi" and items[0]["title"] == f"Order {first.number} shipped"


def test_the_kind_filter_answers_htmx_with_just_the_timeline(admin_client):
    customer = make_customer()
    _story(customer)
    page = admin_client.get(f"/customers/{customer.pk}/").content.decode()
    form = re.search(r'<form[^>]*id="timeline-filters"[^>]*>', page).group(0)
    assert 'hx-trigger="change"' in form and 'hx-target="#timeline-box"' in form
    assert "<noscript><button>" in page  # the button only for a browser without script

    response = admin_client.get(
        f"/customers/{customer.pk}/", {"kind": "note"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline-box"
    )
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="timeline-box">')
    assert "Aradı, beden sordu" in body and "tl-order" not in body and "<html" not in body
    nothing = admin_client.get(
        f"/customers/{customer.pk}/", {"kind": "refund"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="timeline-box"
    ).content.decode()
    assert "Nothing of these kinds yet." in nothing


def _badges(body: str) -> dict[str, str]:
    section = body.split('id="consent"')[1].split("</ul>")[0]
    return dict(re.findall(r'<li data-channel="(\w+)"><span class="pill[^"]*"[^>]*>([^<]+)</span>', section))


def test_consent_badges_say_their_state_in_words_in_both_languages():
    customer = make_customer(phone="05321112233")
    consent_record(actor=SYSTEM, customer=customer, channel="email", purpose="marketing", status="granted")
    consent_record(actor=SYSTEM, customer=customer, channel="sms", purpose="marketing", status="refused")
    english = login_client(make_role_user("support"))
    badges = _badges(english.get(f"/customers/{customer.pk}/").content.decode())
    assert badges["email"] == "Email: granted" and badges["sms"] == "SMS: refused"
    assert badges["call"] == "Phone call: unknown"

    turkish = login_client(make_role_user("support", language="tr"))
    turkish.cookies[settings.LANGUAGE_COOKIE_NAME] = "tr"
    badges = _badges(turkish.get(f"/customers/{customer.pk}/").content.decode())
    assert badges["email"] == "E-posta: izin var" and badges["sms"] == "SMS: reddetti"
    assert badges["call"].endswith(": bilinmiyor")


def test_a_turkish_page_shows_event_names_and_properties_in_turkish():
    customer = make_customer()
    _story(customer)
    turkish = login_client(make_role_user("support", language="tr"))
    turkish.cookies[settings.LANGUAGE_COOKIE_NAME] = "tr"
    body = turkish.get(f"/customers/{customer.pk}/").content.decode()
    event = re.search(r'<li class="tl-event">(.*?)</li>', body, re.S).group(1)
    assert "Ürün görüntüledi" in event and "Ürün: Keten gömlek" in event and "Viewed Product" not in event
    listed = turkish.get("/events/").content.decode()
    assert "Ürün görüntüledi" in listed and "Sipariş verdi" in listed and "Ayrıntılar" in listed
    rows = re.sub(r'title="[^"]*"', "", listed.split("<tbody")[1])  # the canonical name stays in a tooltip only
    assert "Viewed Product" not in rows and "Placed Order" not in rows
