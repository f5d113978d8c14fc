"""The tracker script, the snippet page (settings access) and the demo store page."""

from django.test import Client
from django.urls import reverse

from kervan.accounts.permissions import Role
from kervan.core.models import AuditLog
from kervan.events.models import TrackerSite


def test_tracker_js_is_small_plain_javascript(client):
    response = client.get("/events/tracker.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert len(response.content) < 5 * 1024
    source = response.content.decode()
    for needed in ("randomUUID", "sendBeacon", "keepalive", "Viewed Page", "Added to Cart", "Started Checkout"):
        assert needed in source


def test_snippet_page_creates_the_default_site_once(admin_client):
    first = admin_client.get(reverse("events:tracker"))
    second = admin_client.get(reverse("events:tracker"))
    assert first.status_code == second.status_code == 200
    site = TrackerSite.objects.get()
    assert site.public_key.startswith("pk_")
    assert site.public_key in first.content.decode()
    assert "/events/tracker.js" in first.content.decode()


def test_admin_sets_allowed_origins(admin_client):
    admin_client.get(reverse("events:tracker"))
    response = admin_client.post(
        reverse("events:tracker"), {"allowed_origins": "https://a.example\nhttps://b.example/"}
    )
    assert response.status_code == 302
    assert TrackerSite.objects.get().allowed_origins == ["https://a.example", "https://b.example"]
    assert AuditLog.objects.filter(object_type="events.trackersite", action="update").exists()
    response = admin_client.post(reverse("events:tracker"), {"allowed_origins": "not an origin"}, follow=True)
    assert TrackerSite.objects.get().allowed_origins == ["https://a.example", "https://b.example"]


def test_settings_access_matrix(db, make_user):
    for role, get_status, post_status in [
        (Role.MARKETING, 200, 403),  # settings: read
        (Role.SALES, 403, 403),  # no settings access
        (Role.ADMIN, 200, 302),
    ]:
        client = Client()
        client.force_login(make_user(role, username=f"u-{role}"))
        assert client.get(reverse("events:tracker")).status_code == get_status, role
        before = list(TrackerSite.objects.values_list("allowed_origins", flat=True))
        response = client.post(reverse("events:tracker"), {"allowed_origins": "https://x.example"})
        assert response.status_code == post_status, role
        if post_status != 302:
            assert list(TrackerSite.objects.values_list("allowed_origins", flat=True)) == before


def test_anonymous_user_is_sent_to_login(client, db):
    response = client.get(reverse("events:tracker"))
    assert response.status_code == 302
    assert TrackerSite.objects.count() == 0


def test_demo_store_page_runs_the_snippet(admin_client):
    response = admin_client.get(reverse("events:tracker_demo"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-key="pk_' in html
    assert "kervan/demo-store.js" in html and "<script>" not in html  # no inline script: the CSP allows none
