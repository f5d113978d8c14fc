"""The settings page for shops that already run Segment or RudderStack code: the lines to change (the browser
library, the Node and Python libraries) filled with this Kervan's host and the shop's keys, and for each key the last
messages it sent (kervan.events.segment_views keeps them), refreshed while the page is open."""

from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from kervan.accounts.decorators import require_access
from kervan.accounts.models import ApiKey
from kervan.events import actions
from kervan.events.models import TrackerSite
from kervan.events.segment_views import recent_key_for, recent_messages, segment_source

ANALYTICS_NEXT_VERSION = "1.84.3"  # the version the tests drive (kervan/events/tests/node/package.json)


def _event_keys():
    """API keys that may send events (their secret is shown only when made: the page names them by prefix)."""
    keys = ApiKey.objects.filter(revoked_at__isnull=True).order_by("-created_at")
    return [key for key in keys if key.scopes.get("events") == "write"]


@require_access("settings", "read")
def segment_settings(request):
    site = actions.tracker_site_default(actor=request.actor)
    origin = f"{request.scheme}://{request.get_host()}"
    server_keys = _event_keys()
    server_key = f"kv_{server_keys[0].prefix}_…" if server_keys else "YOUR_KERVAN_API_KEY"
    snippets = {
        "npm": (
            "import { AnalyticsBrowser } from '@segment/analytics-next'\n\n"
            "export const analytics = AnalyticsBrowser.load({\n"
            f"  writeKey: '{site.public_key}',\n"
            f"  cdnURL: '{origin}',  // Kervan serves the settings that point analytics.js at it\n"
            "})"
        ),
        "script": (
            f'<script src="https://cdn.jsdelivr.net/npm/@segment/analytics-next@{ANALYTICS_NEXT_VERSION}'
            '/dist/umd/index.js"></script>\n'
            "<script>\n"
            "  window.analytics = AnalyticsNext.AnalyticsBrowser.load({\n"
            f'    writeKey: "{site.public_key}",\n'
            f'    cdnURL: "{origin}",\n'
            "  });\n"
            "  analytics.page();\n"
            "</script>"
        ),
        "signed": (
            'analytics.identify("12345", { email: "ayse@example.com", firstName: "Ayşe" },\n'
            '                   { context: { kervan: { signature: "SIGNATURE_FROM_YOUR_SERVER" } } })'
        ),
        "node": (
            "import { Analytics } from '@segment/analytics-node'\n\n"
            f"const analytics = new Analytics({{ writeKey: '{server_key}', host: '{origin}' }})"
        ),
        "python": (
            "import segment.analytics as analytics\n\n"
            f'analytics.write_key = "{server_key}"\n'
            f'analytics.host = "{origin}"'
        ),
        "rudderstack": (
            "import rudderstack.analytics as rudder_analytics\n\n"
            f'rudder_analytics.write_key = "{server_key}"\n'
            f'rudder_analytics.dataPlaneUrl = "{origin}"'
        ),
        "http": (
            f"curl {origin}/v1/track -u '{server_key}:' -H 'Content-Type: application/json' \\\n"
            """  -d '{"userId": "12345", "event": "Order Completed", "properties": {"order_id": "1001", """
            """"revenue": 349.9, "currency": "TRY"}}'"""
        ),
    }
    # The site is named by Kervan in English ("Website") until the shop renames it: the key's role is what to show.
    keys = [{"label": _("Storefront (browser)"), "kind": "site", "pk": site.pk, "shown": site.public_key}]
    keys += [{"label": key.name, "kind": "key", "pk": key.pk, "shown": f"kv_{key.prefix}_…"} for key in server_keys]
    context = {
        "site": site,
        "origin": origin,
        "snippets": snippets,
        "has_server_key": bool(server_keys),
        "source": segment_source(site),
        "keys": keys,
        "can_read_events": request.actor.can("events", "read"),
    }
    return render(request, "events/segment.html", context)


@require_GET
@require_access("events", "read")
def segment_recent(request, kind: str, pk: int):
    """The last messages a key sent (the page polls it)."""
    if kind == "site":
        found = TrackerSite.objects.filter(pk=pk).exists()
    elif kind == "key":
        found = ApiKey.objects.filter(pk=pk).exists()
    else:
        found = False
    if not found:
        raise Http404
    entries = recent_messages(recent_key_for(kind, pk))
    return render(request, "events/_segment_recent.html", {"kind": kind, "pk": pk, "entries": entries})
