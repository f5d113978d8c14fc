"""How much the public tracker takes (kervan.events.storefront): items per visitor, per address and per site, new
profiles per visitor, address and site, one visitor per request, the body size; every refusal JSON with the CORS
headers and Retry-After, in the tracker's own words. And the identity secret on the tracker page."""

import datetime as dt
import json
import re
import uuid

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from kervan.accounts.actors import Actor
from kervan.accounts.permissions import Role
from kervan.core import clock
from kervan.core.models import AuditLog
from kervan.customers.models import Customer
from kervan.events.actions import tracker_site_default, tracker_site_update
from kervan.events.models import Event, TrackerSite

SHOP = "https://shop.example.com"


@pytest.fixture
def site(db):
    site = tracker_site_default(actor=Actor.system())
    return tracker_site_update(actor=Actor.system(), site=site, allowed_origins=[SHOP])


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def limits(settings):
    """Set some of KERVAN_TRACKER_LIMITS for one test; the others keep their defaults."""

    def set_(**values):
        settings.KERVAN_TRACKER_LIMITS = {**settings.KERVAN_TRACKER_LIMITS, **values}

    return set_


def views(visitor="visitor-1", count=1) -> list[dict]:
    now = clock.now().isoformat()
    return [
        {
            "type": "track",
            "event_id": str(uuid.uuid4()),
            "name": "Viewed Page",
            "occurred_at": now,
            "anonymous_id": visitor,
        }
        for _ in range(count)
    ]


def collect(client, site, items, address="203.0.113.9"):
    body = json.dumps({"key": site.public_key, "batch": items})
    return client.post("/events/collect", body, content_type="text/plain", HTTP_ORIGIN=SHOP, REMOTE_ADDR=address)


def assert_tracker_refusal(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code and response.json()["detail"]
    assert "API key" not in response.json()["detail"]
    assert response["Access-Control-Allow-Origin"] == SHOP
    if status == 429:
        assert 1 <= int(response["Retry-After"]) <= 86_400


def test_items_are_counted_per_visitor_not_per_request(client, site, limits):
    limits(visitor_items=(5, 600))
    assert collect(client, site, views(count=3)).status_code == 202
    assert_tracker_refusal(collect(client, site, views(count=3)), 429, "visitor_rate_limited")
    assert Event.objects.count() == 3
    assert collect(client, site, views("visitor-2", count=3)).status_code == 202  # another browser is not held up


def test_items_are_counted_per_address(client, site, limits):
    limits(address_items=(5, 600))
    assert collect(client, site, views("v1", count=3)).status_code == 202
    assert_tracker_refusal(collect(client, site, views("v2", count=3)), 429, "address_rate_limited")
    assert collect(client, site, views("v3", count=3), address="198.51.100.1").status_code == 202
    assert Event.objects.count() == 6


def test_items_are_counted_per_site(client, site, limits):
    limits(site_items=(5, 600))
    assert collect(client, site, views("v1", count=3), address="198.51.100.1").status_code == 202
    assert_tracker_refusal(
        collect(client, site, views("v2", count=3), address="198.51.100.2"), 429, "site_rate_limited"
    )


def test_a_hundred_requests_no_longer_store_ten_thousand_events(client, site):
    """The finding: 100 requests of 100 items all stored. Now one visitor gets its window's allowance (200)."""
    statuses = [collect(client, site, views(count=100)).status_code for _ in range(100)]
    assert statuses[:2] == [202, 202] and set(statuses[2:]) == {429}
    assert Event.objects.count() == 200


def test_limits_open_again_in_the_next_window(client, site, limits):
    limits(visitor_items=(2, 60))
    minute = clock.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=1)
    with clock.frozen(minute + dt.timedelta(seconds=5)):
        assert collect(client, site, views(count=2)).status_code == 202
        refused = collect(client, site, views(count=1))
        assert_tracker_refusal(refused, 429, "visitor_rate_limited")
        assert refused["Retry-After"] == "55"
        clock.advance(dt.timedelta(seconds=55))
        assert collect(client, site, views(count=1)).status_code == 202


def test_a_request_speaks_for_one_browser(client, site):
    response = collect(client, site, views("v1") + views("v2") + views("v3"))
    assert_tracker_refusal(response, 422, "too_many_visitors")
    assert Event.objects.count() == 0
    assert collect(client, site, views("v1") + views("v2")).status_code == 202  # an id reset while queued


def test_new_profiles_are_limited_per_address(client, site, limits):
    limits(address_new_profiles=(2, 3600))

    def sign_up(i):
        return collect(client, site, [{"type": "identify", "anonymous_id": f"v{i}", "email": f"new{i}@example.com"}])

    assert [sign_up(i).status_code for i in range(2)] == [202, 202]
    assert_tracker_refusal(sign_up(2), 429, "profile_limit")
    assert Customer.objects.count() == 2


def test_new_profiles_are_limited_per_visitor_and_per_site(client, site, limits):
    limits(visitor_new_profiles=(0, 86400))
    first = collect(client, site, [{"type": "identify", "anonymous_id": "v1", "email": "a@example.com"}])
    assert_tracker_refusal(first, 429, "profile_limit")
    limits(visitor_new_profiles=(3, 86400), site_new_profiles=(1, 3600))
    assert (
        collect(client, site, [{"type": "identify", "anonymous_id": "v1", "email": "a@example.com"}]).status_code == 202
    )
    other = collect(
        client, site, [{"type": "identify", "anonymous_id": "v2", "email": "b@example.com"}], "198.51.100.3"
    )
    assert_tracker_refusal(other, 429, "profile_limit")
    assert list(Customer.objects.values_list("email", flat=True)) == ["a@example.com"]


def test_the_request_limit_speaks_of_the_address_not_an_api_key(client, site, settings):
    settings.KERVAN_TRACKER_RATE_LIMIT = 1
    assert collect(client, site, views()).status_code == 202
    assert_tracker_refusal(collect(client, site, views()), 429, "rate_limited")


def test_an_oversize_body_is_answered_in_json_with_cors(client, site, settings):
    settings.KERVAN_TRACKER_MAX_BODY = 2048
    big = views()
    big[0]["properties"] = {"blob": "x" * 4000}
    assert_tracker_refusal(collect(client, site, big), 413, "request_too_large")
    # Past Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE) too, which used to answer an HTML page.
    settings.KERVAN_TRACKER_MAX_BODY = 50 * 1024 * 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    assert_tracker_refusal(collect(client, site, big), 413, "request_too_large")
    assert Event.objects.count() == 0


# --- the identity secret on the tracker page ---------------------------------------------------------------------


def test_the_tracker_page_shows_the_secret_with_a_copy_button_and_how_to_sign(admin_client):
    html = admin_client.get(reverse("events:tracker")).content.decode()
    site = TrackerSite.objects.get()
    assert site.identity_secret.startswith("sk_") and site.identity_secret != site.public_key
    assert f'<code id="identity-secret">{site.identity_secret}</code>' in html
    assert '<button type="button" data-copy="#identity-secret"' in html
    assert "HMAC-SHA256" in html and "hash_hmac('sha256'" in html and "signature:" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script: the CSP allows none


def test_only_those_who_may_change_settings_see_the_secret(db, make_user):
    client = Client()
    client.force_login(make_user(Role.MARKETING, username="reader"))  # settings: read
    html = client.get(reverse("events:tracker")).content.decode()
    site = TrackerSite.objects.get()
    assert site.public_key in html and site.identity_secret not in html
    before = site.identity_secret
    assert client.post(reverse("events:tracker"), {"action": "rotate_secret"}).status_code == 403
    assert TrackerSite.objects.get().identity_secret == before


def test_admin_makes_a_new_secret_and_old_signatures_stop_working(admin_client, client):
    from kervan.events.storefront import identity_signature

    admin_client.get(reverse("events:tracker"))
    site = TrackerSite.objects.get()
    site = tracker_site_update(actor=Actor.system(), site=site, allowed_origins=[SHOP])
    old = site.identity_secret
    response = admin_client.post(reverse("events:tracker"), {"action": "rotate_secret"})
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.identity_secret != old and site.identity_secret.startswith("sk_")
    row = AuditLog.objects.filter(object_type="events.trackersite", action="update").latest("id")
    assert old not in str(row.changes) and site.identity_secret not in str(row.changes)
    item = {"type": "identify", "anonymous_id": "v1", "email": "a@example.com"}
    stale = collect(client, site, [{**item, "signature": identity_signature(old, "a@example.com")}])
    assert_tracker_refusal(stale, 403, "invalid_signature")
    fresh = collect(client, site, [{**item, "signature": identity_signature(site.identity_secret, "a@example.com")}])
    assert fresh.status_code == 202


def test_tracker_js_sends_the_signature_given_to_identify(client):
    source = client.get("/events/tracker.js").content.decode()
    assert "options.signature" in source and '"user_id"' in source and "Retry-After" in source
