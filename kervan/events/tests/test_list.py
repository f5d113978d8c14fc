"""The event list a shop watches its tracker with: newest first, filters by name, customer, property and time (a bad
value flagged beside its filter while the rest apply), the live poll that prepends newer rows, bounded queries."""

import datetime as dt
import itertools
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kervan.accounts.actors import Actor
from kervan.accounts.testing import login_client, make_role_user
from kervan.catalog.actions import product_create
from kervan.core.models import Source
from kervan.customers.actions import customer_merge
from kervan.customers.tests.factories import make_customer
from kervan.events.actions import event_record
from kervan.events.models import Event
from kervan.events.selectors import event_marker
from kervan.workspace.lists import PAGE_SIZE

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system()
IST = dt.timezone(dt.timedelta(hours=3))
BASE = dt.datetime(2026, 3, 10, 12, 0, tzinfo=IST)
_keys = itertools.count()


def _event(name="Viewed Page", *, minutes=0, customer=None, properties=None, anonymous_id="", source=None) -> Event:
    key = f"test:{next(_keys)}"
    event_record(
        name=name,
        occurred_at=BASE + dt.timedelta(minutes=minutes),
        dedupe_key=key,
        customer_id=customer.pk if customer else None,
        anonymous_id=anonymous_id,
        properties=properties or {},
        source=source,
    )
    return Event.objects.get(dedupe_key=key)


def _shown(body: str) -> list[int]:
    """The event ids of the rows, top to bottom."""
    return [int(pk) for pk in re.findall(r'<tr data-event="(\d+)"', body)]


def test_the_list_is_newest_first_with_readable_rows(admin_client):
    shop = Source.objects.create(key="vitrin", name="Vitrin", kind=Source.Kind.TRACKER)
    ayse = make_customer(first_name="Ayşe", last_name="Kaya")
    older = _event("Viewed Page", minutes=1, anonymous_id="v-1", properties={"path": "/kampanya"}, source=shop)
    newest = _event("Added to Cart", minutes=30, customer=ayse, properties={"value": "349.90", "currency": "TRY"})
    middle = _event("Custom Thing", minutes=5, customer=ayse, properties={"colour": "kırmızı"})

    response = admin_client.get("/events/")
    body = response.content.decode()
    assert response.status_code == 200
    assert _shown(body) == [newest.pk, middle.pk, older.pk]
    row = body.split(f'<tr data-event="{newest.pk}"')[1].split("</tr>")[0]
    assert ">Added to Cart</a>" in row
    assert f'href="/customers/{ayse.pk}/"' in row and "Ayşe Kaya" in row
    assert "Value:</span> ₺349.90" in row
    anonymous = body.split(f'<tr data-event="{older.pk}"')[1].split("</tr>")[0]
    assert "anonymous visitor" in anonymous and "Vitrin" in anonymous and "Page:</span> /kampanya" in anonymous
    custom = body.split(f'<tr data-event="{middle.pk}"')[1].split("</tr>")[0]
    assert ">Custom Thing</a>" in custom and "colour:</span> kırmızı" in custom  # unknown ones as they are
    assert response.context["count_text"] == "3 results"


def test_show_more_pages_by_time_exactly_once(admin_client):
    events = [_event(minutes=i % 7, anonymous_id=f"v{i}") for i in range(PAGE_SIZE + 12)]  # many equal times
    expected = [e.pk for e in sorted(events, key=lambda e: (e.occurred_at, e.pk), reverse=True)]
    first = admin_client.get("/events/")
    cursor = first.context["page"].next_cursor
    more = admin_client.get("/events/", {"cursor": cursor}, HTTP_HX_REQUEST="true")
    assert _shown(first.content.decode()) + _shown(more.content.decode()) == expected


def test_filters_by_name_customer_property_and_time(admin_client, clock):
    ayse = make_customer(first_name="Ayşe", email="ayse.kaya@gmail.com")
    other = make_customer()
    product = _event("Viewed Product", minutes=1, customer=ayse, properties={"product_id": 131})
    as_text = _event("Viewed Product", minutes=2, properties={"product_id": "131"}, anonymous_id="v")
    _event("Viewed Product", minutes=3, customer=other, properties={"product_id": 1310})
    page = _event("Viewed Page", minutes=60 * 24, customer=ayse)

    def shown(**query) -> set[int]:
        with clock.frozen(BASE + dt.timedelta(days=2)):
            response = admin_client.get("/events/", query)
        assert response.context["state"].errors == {}, response.context["state"].errors
        return set(_shown(response.content.decode()))

    assert shown(name="Viewed Page") == {page.pk}
    assert shown(customer=str(ayse.pk)) == {product.pk, page.pk}
    assert shown(customer=f"#{ayse.pk}") == {product.pk, page.pk}
    assert shown(customer="Ayse.Kaya@GMAIL.com") == {product.pk, page.pk}  # any form of the address
    assert shown(prop="product_id=131") == {product.pk, as_text.pk}  # the number and the text, not 1310
    assert shown(prop="product_id=131", customer=ayse.email) == {product.pk}
    assert shown(since="2026-03-11") == {page.pk}  # the shop's day, from its first instant
    assert shown(until="2026-03-10") == {product.pk, as_text.pk} | {e.pk for e in Event.objects.filter(customer=other)}
    assert shown(since="2026-03-10 12:02", until="2026-03-10T12:03:00+03:00") == {as_text.pk}

    survivor = make_customer()
    customer_merge(actor=SYSTEM, survivor=survivor, merged=ayse)
    assert shown(customer=str(ayse.pk)) == {product.pk, page.pk}  # the old number finds the events, now the survivor's


def test_a_bad_value_is_flagged_beside_its_filter_and_the_others_stay_applied(admin_client):
    ayse = make_customer()
    mine = _event("Viewed Page", minutes=1, customer=ayse)
    _event("Viewed Page", minutes=2, anonymous_id="v")
    _event("Added to Cart", minutes=3, customer=ayse)

    response = admin_client.get(
        "/events/",
        {"name": "Viewed Page", "customer": str(ayse.pk), "prop": "product_id", "since": "dün", "sort": "oldest"},
    )
    body = response.content.decode()
    state = response.context["state"]
    assert response.status_code == 200
    assert set(state.errors) == {"prop", "since", "sort"}
    assert "key=value" in state.errors["prop"] and "YYYY-MM-DD" in state.errors["since"]
    assert state.applied == {"name": "Viewed Page", "customer": str(ayse.pk)}
    assert _shown(body) == [mine.pk]
    label = body.split('name="prop"')[0].rsplit("<label", 1)[1]
    assert "has-error" in label and 'value="product_id"' in body  # kept for correcting

    for query, field in (
        ({"customer": "nobody@example.com"}, "customer"),
        ({"customer": "999999"}, "customer"),
        ({"customer": "Ayşe"}, "customer"),
        ({"customer": "not@an@email"}, "customer"),
        ({"prop": "a__b=1"}, "prop"),
        ({"prop": "=1"}, "prop"),
        ({"until": "2026-13-01"}, "until"),
        ({"since": "2026-03-05", "until": "2026-03-01"}, "until"),
        ({"name": "x" * 101}, "name"),
    ):
        refused = admin_client.get("/events/", query)
        assert refused.status_code == 200 and set(refused.context["state"].errors) == {field}, query
    # NUL characters (which no column holds) are dropped from what was typed, as on every list
    cleaned = admin_client.get("/events/", {"prop": "product_id=1\x00", "name": "Viewed\x00 Page"})
    assert cleaned.status_code == 200 and cleaned.context["state"].applied["prop"] == "product_id=1"


def _poll_after(body: str) -> str:
    poller = re.search(r'<span id="events-live"[^>]*hx-get="([^"]+)"', body).group(1)
    return parse_qs(urlsplit(poller.replace("&amp;", "&")).query)["after"][0]


def test_a_name_or_property_filter_looks_back_30_days_unless_told_otherwise(admin_client, clock):
    ayse = make_customer()
    old = _event("Viewed Product", minutes=-60 * 24 * 31, customer=ayse, properties={"product_id": 5})
    recent = _event("Viewed Product", minutes=-60 * 24 * 29, customer=ayse, properties={"product_id": 5})
    with clock.frozen(BASE):
        for query in ({"name": "Viewed Product"}, {"prop": "product_id=5"}):
            body = admin_client.get("/events/", query).content.decode()
            assert _shown(body) == [recent.pk] and "Searching the last 30 days" in body
            wider = admin_client.get("/events/", {**query, "since": "2026-01-01"}).content.decode()
            assert _shown(wider) == [recent.pk, old.pk] and "Searching the last" not in wider
            theirs = admin_client.get("/events/", {**query, "customer": str(ayse.pk)}).content.decode()
            assert _shown(theirs) == [recent.pk, old.pk]  # a customer's events have their own index
        # Until moves the window with it.
        earlier = admin_client.get("/events/", {"name": "Viewed Product", "until": "2026-02-08"}).content.decode()
        assert _shown(earlier) == [old.pk]
        assert "Searching the last" not in admin_client.get("/events/").content.decode()


def test_the_live_poll_returns_only_rows_newer_than_the_newest_shown(admin_client):
    ayse = make_customer()
    _event("Viewed Page", minutes=1, customer=ayse)
    shown = _event("Viewed Page", minutes=2, customer=ayse)
    page = admin_client.get("/events/", {"customer": str(ayse.pk)}).content.decode()
    marker = event_marker(shown)
    assert _poll_after(page) == marker  # the poller carries the newest shown
    assert 'hx-trigger="every 5s"' in page and "<script" not in page.split("<main")[-1]

    live = lambda **q: admin_client.get("/events/live/", {"customer": str(ayse.pk), **q})  # noqa: E731
    assert live(after=marker).status_code == 204  # nothing new yet

    same_time = _event("Added to Cart", minutes=2, customer=ayse)  # same instant, later id: newer
    later = _event("Started Checkout", minutes=3, customer=ayse)
    _event("Started Checkout", minutes=4, anonymous_id="someone-else")  # newer, but not this list's filter
    response = live(after=marker)
    body = response.content.decode()
    assert response.status_code == 200
    assert _shown(body) == [later.pk, same_time.pk]
    assert 'hx-swap-oob="true"' in body and _poll_after(body) == event_marker(later)
    assert live(after=event_marker(later)).status_code == 204

    forged = admin_client.get("/events/live/", {"after": "not-a-marker"})
    assert forged.status_code == 400 and forged.json()["code"] == "invalid_cursor"


def test_the_live_poll_reloads_the_page_when_a_page_was_empty_or_too_much_arrived(admin_client):
    empty = admin_client.get("/events/").content.decode()
    assert "No events yet" in empty and 'href="/events/tracker/"' in empty  # how to install the tracker
    assert admin_client.get("/events/live/").status_code == 204
    first = _event(minutes=0, anonymous_id="v")
    arrived = admin_client.get("/events/live/")
    assert arrived.status_code == 200 and arrived["HX-Refresh"] == "true"

    for i in range(PAGE_SIZE + 1):
        _event(minutes=1 + i, anonymous_id=f"w{i}")
    flood = admin_client.get("/events/live/", {"after": event_marker(first)})
    assert flood["HX-Refresh"] == "true"


def _queries(client, path, query=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, query or {})
        assert response.status_code == 200
    return len(captured)


def test_queries_do_not_grow_with_the_rows_and_names_come_from_a_cached_facet(admin_client):
    shop = Source.objects.create(key="vitrin", name="Vitrin", kind=Source.Kind.TRACKER)
    products = [
        product_create(actor=SYSTEM, title=f"Ürün {i}", variants=[{"sku": f"SKU-{i}", "price": "10"}])
        for i in range(12)
    ]
    for i in range(3):
        _event("Viewed Product", minutes=i, customer=make_customer(), properties={"product_id": products[i].pk})
    admin_client.get("/events/")  # warms the session, the facet and the menu
    few = _queries(admin_client, "/events/")
    few_live = _queries(admin_client, "/events/live/", {"after": event_marker(Event.objects.order_by("id")[0])})
    for i in range(3, 40):
        product = products[i % len(products)]
        variant = product.variants.get()
        _event(
            "Viewed Product",
            minutes=i,
            customer=make_customer(),
            properties={"product_id": product.pk, "variant_id": variant.pk},
            source=shop,
        )
    _event("Rare Custom Event", minutes=100, anonymous_id="v")
    assert _queries(admin_client, "/events/") == few  # customers, sources and product names: not one per row
    assert _queries(admin_client, "/events/live/", {"after": event_marker(Event.objects.order_by("id")[0])}) <= few_live
    # The name choices are read from the cache: the new custom name is not there until the facet refreshes.
    choices = [v for v, _label in admin_client.get("/events/").context["filters"][0][3]]
    assert "Viewed Product" in choices and "Opened Email" in choices and "Rare Custom Event" not in choices
    from django.core.cache import cache

    cache.clear()
    choices = [v for v, _label in admin_client.get("/events/").context["filters"][0][3]]
    assert "Rare Custom Event" in choices


def test_every_role_that_reads_events_sees_the_list_and_the_menu_entry(db):
    from kervan.accounts.permissions import Role

    event = _event(customer=make_customer())
    for role in Role.values:
        client = login_client(make_role_user(role))
        response = client.get("/events/")
        assert response.status_code == 200, role
        assert _shown(response.content.decode()) == [event.pk]
        assert 'href="/events/"' in response.content.decode()
        assert client.get("/events/live/", {"after": event_marker(event)}).status_code == 204
    anonymous = Client().get("/events/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous.url
