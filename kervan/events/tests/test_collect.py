"""The tracker's public endpoint /events/collect: publishable key, storefront events only, CORS, rate limit."""

import datetime as dt
import json
import uuid

import pytest
from django.core.cache import cache

from kervan.accounts.actors import Actor
from kervan.customers.models import Customer
from kervan.events.actions import tracker_site_default, tracker_site_update
from kervan.events.models import Event

SHOP = "https://shop.example.com"


@pytest.fixture
def site(db):
    site = tracker_site_default(actor=Actor.system())
    return tracker_site_update(actor=Actor.system(), site=site, allowed_origins=[SHOP + "/"])


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def now_iso(**delta) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(**delta)).isoformat()


def page_view(**fields) -> dict:
    return {
        "type": "track",
        "event_id": str(uuid.uuid4()),
        "name": "Viewed Page",
        "occurred_at": now_iso(),
        "anonymous_id": "visitor-1",
        "properties": {"path": "/"},
        **fields,
    }


def collect(client, body, origin=SHOP, content_type="text/plain", **headers):
    if origin:
        headers["HTTP_ORIGIN"] = origin
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post("/events/collect", raw, content_type=content_type, **headers)


def test_collect_stores_storefront_events_for_the_site(client, site):
    item = page_view()
    response = collect(client, {"key": site.public_key, "batch": [item, item]})
    assert response.status_code == 202, response.json()
    assert response.json() == {"accepted": 1, "duplicates": 1, "identified": 0}
    assert response["Access-Control-Allow-Origin"] == SHOP
    stored = Event.objects.get()
    assert stored.dedupe_key == f"website:{item['event_id']}"
    assert stored.source.key == "website"


def test_collect_identify_joins_the_visitor(client, site):
    collect(client, {"key": site.public_key, "batch": [page_view()]})
    response = collect(
        client,
        {
            "key": site.public_key,
            "batch": [
                {
                    "type": "identify",
                    "anonymous_id": "visitor-1",
                    "email": "ece@example.com",
                    "traits": {"first_name": "Ece"},
                },
                page_view(name="Added to Cart"),
            ],
        },
    )
    assert response.json()["identified"] == 1
    ece = Customer.objects.get(email="ece@example.com")
    assert Event.objects.filter(customer=ece).count() == 2


def test_a_browser_cannot_rename_an_existing_customer(client, site, zeynep):
    response = collect(
        client,
        {
            "key": site.public_key,
            "batch": [
                {
                    "type": "identify",
                    "anonymous_id": "visitor-1",
                    "email": "zeynep@example.com",
                    "traits": {"first_name": "Hacker", "city": "Nowhere"},
                },
                page_view(),
            ],
        },
    )
    assert response.status_code == 202
    zeynep.refresh_from_db()
    assert (zeynep.first_name, zeynep.city) == ("Zeynep", "")
    # Unsigned, the email proves nothing: the visit stays anonymous (test_storefront_identity.py has every case).
    assert Event.objects.get().customer_id is None


def test_clock_skew_is_corrected_with_sent_at(client, site):
    # The browser's clock is two days fast; its events are moved back by the same amount.
    response = collect(
        client,
        {
            "key": site.public_key,
            "sent_at": now_iso(days=2),
            "batch": [page_view(occurred_at=now_iso(days=2, seconds=-30))],
        },
    )
    assert response.status_code == 202, response.json()
    occurred = Event.objects.get().occurred_at
    assert abs(occurred - (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30))) < dt.timedelta(seconds=5)


@pytest.mark.parametrize(
    ("item", "status", "code"),
    [
        ({"name": "Placed Order"}, 403, "event_not_allowed"),
        ({"name": "Earned Points"}, 403, "event_not_allowed"),
        ({"customer_id": 1}, 422, "validation_error"),
        ({"user_id": "1", "source": "website"}, 422, "validation_error"),
        ({"anonymous_id": ""}, 422, "validation_error"),
        ({"occurred_at": "2026-01-01T10:00:00"}, 422, "naive_datetime"),
    ],
)
def test_collect_refuses_what_a_browser_may_not_say(client, site, item, status, code):
    response = collect(client, {"key": site.public_key, "batch": [page_view(), page_view(**item)]})
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert Event.objects.count() == 0


def test_custom_event_names_are_allowed(client, site):
    assert collect(client, {"key": site.public_key, "batch": [page_view(name="Watched Video")]}).status_code == 202


def test_unknown_key_and_foreign_origin_are_refused(client, site):
    assert collect(client, {"key": "pk_nope", "batch": [page_view()]}).json()["code"] == "invalid_site_key"
    response = collect(client, {"key": site.public_key, "batch": [page_view()]}, origin="https://evil.example")
    assert response.status_code == 403
    assert response.json()["code"] == "origin_not_allowed"
    assert Event.objects.count() == 0


def test_kervans_own_pages_may_use_the_key(client, site):
    # The demo store page is served by Kervan itself.
    response = collect(client, {"key": site.public_key, "batch": [page_view()]}, origin="http://testserver")
    assert response.status_code == 202


def test_malformed_bodies(client, site):
    for raw, code in [("{nope", "malformed_request"), ("[]", "validation_error"), ('{"key": 5}', "validation_error")]:
        response = collect(client, raw)
        assert 400 <= response.status_code < 500
        assert response.json()["code"] == code
    assert client.get("/events/collect").status_code == 405
    assert Event.objects.count() == 0


def test_preflight_answers_only_allowed_origins(client, site):
    ok = client.options("/events/collect", HTTP_ORIGIN=SHOP, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert ok.status_code == 204
    assert ok["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in ok["Access-Control-Allow-Methods"]
    assert "Content-Type" in ok["Access-Control-Allow-Headers"]
    refused = client.options("/events/collect", HTTP_ORIGIN="https://evil.example")
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused


def test_json_content_type_works_too(client, site):
    response = collect(client, {"key": site.public_key, "batch": [page_view()]}, content_type="application/json")
    assert response.status_code == 202


def test_collect_is_rate_limited(client, site, settings):
    settings.KERVAN_TRACKER_RATE_LIMIT = 3
    statuses = [collect(client, {"key": site.public_key, "batch": [page_view()]}).status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 429]
    assert Event.objects.count() == 3


def test_behind_a_proxy_each_visitor_has_their_own_rate_limit(client, site, settings):
    """Every request reaches Kervan from the proxy's address: without KERVAN_TRUSTED_PROXIES one busy shop would
    share a single limit. The proxy appends the address it was reached from; a client's own X-Forwarded-For entry
    (on the left) is not believed."""
    settings.KERVAN_TRACKER_RATE_LIMIT = 2
    settings.KERVAN_TRUSTED_PROXIES = 1

    def send(forwarded):
        body = {"key": site.public_key, "batch": [page_view()]}
        return collect(client, body, HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="10.0.0.2").status_code

    assert [send("203.0.113.5") for _ in range(3)] == [202, 202, 429]
    assert send("198.51.100.7") == 202  # another visitor behind the same proxy
    assert send("198.51.100.99, 203.0.113.5") == 429  # a spoofed entry in front changes nothing


def test_forwarded_addresses_are_ignored_without_a_trusted_proxy(client, site, settings):
    settings.KERVAN_TRACKER_RATE_LIMIT = 2
    settings.KERVAN_TRUSTED_PROXIES = 0
    statuses = [
        collect(client, {"key": site.public_key, "batch": [page_view()]}, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
        for i in range(3)
    ]
    assert [r.status_code for r in statuses] == [202, 202, 429]  # one client (REMOTE_ADDR) whatever it claims


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "1.2.3.4, 203.0.113.5", "203.0.113.5"),
        (2, "203.0.113.5, 10.0.0.1", "203.0.113.5"),
        (1, "2001:db8::1", "2001:db8::1"),
        (2, "203.0.113.5", "10.0.0.2"),  # fewer hops than proxies: misconfigured, not believed
        (1, "not-an-address", "10.0.0.2"),
        (0, "203.0.113.5", "10.0.0.2"),
    ],
)
def test_client_ip(rf, settings, proxies, forwarded, expected):
    from kervan.accounts.api_auth import client_ip

    settings.KERVAN_TRUSTED_PROXIES = proxies
    request = rf.get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="10.0.0.2")
    assert client_ip(request) == expected


def test_origins_are_validated(site):
    from kervan.core.errors import KervanError

    for bad in ["shop.example.com", "https://shop.example.com/path", "ftp://x.example", "https://x:99999"]:
        with pytest.raises(KervanError):
            tracker_site_update(actor=Actor.system(), site=site, allowed_origins=[bad])
    site = tracker_site_update(actor=Actor.system(), site=site, allowed_origins=["HTTPS://Shop.Example.com:8443/"])
    assert site.allowed_origins == ["https://shop.example.com:8443"]
