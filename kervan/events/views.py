"""The browser side of events: the tracker script, its public collect endpoint, the snippet page and a demo shop.

The collect endpoint is public by design (a browser cannot keep a secret): it takes a site's publishable key,
accepts only storefront events for visitors, answers CORS only for the site's origins, and is rate-limited.
"""

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from kervan.accounts import throttle
from kervan.accounts.actors import Actor
from kervan.accounts.api_auth import client_ip
from kervan.accounts.decorators import require_access
from kervan.core import clock
from kervan.core.errors import (
    DATABASE_RETRY_AFTER_SECONDS,
    DATABASE_UNAVAILABLE_DETAIL,
    DATABASE_UNAVAILABLE_ERRORS,
    KervanError,
)
from kervan.core.web import allow_origin, json_error, parse_json, read_body
from kervan.events import actions, selectors
from kervan.events import storefront as storefronts
from kervan.events.schemas import CollectIn
from kervan.events.storefront import Storefront

TRACKER_JS = Path(__file__).parent / "assets" / "tracker.js"
_tracker_source: bytes | None = None


@require_GET
def tracker_js(request):
    global _tracker_source
    if _tracker_source is None or settings.DEBUG:
        _tracker_source = TRACKER_JS.read_bytes()
    response = HttpResponse(_tracker_source, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@csrf_exempt
def collect(request):
    """POST {"key", "sent_at"?, "batch": [track|identify, …]} from the tracker; any content type (sendBeacon
    sends text/plain). Answers 202 {"accepted", "duplicates", "identified"} or 4xx/503 {"detail", "code"}, always
    JSON and with the CORS headers, so the tracker can read every answer (429 and 503 with Retry-After)."""
    origin = request.headers.get("Origin")
    if request.method == "OPTIONS":
        return preflight(request, origin)
    if request.method != "POST":
        return allow_origin(json_error(405, _("Use POST."), "method_not_allowed"), origin)
    try:
        address = client_ip(request)
        throttle.check(
            f"tracker:requests:{throttle.hashed(address)}",
            throttle.Limit(_collect_limit(), 60),
            detail=_("Too many requests from this address; the tracker will send them again later."),
            code="rate_limited",
        )
        payload = parse_json(CollectIn, _read_body(request), status=422)
        site = selectors.tracker_site_for_key(payload.key)
        if site is None:
            raise KervanError(_("Unknown or disabled site key."), "invalid_site_key", status=403, field="key")
        if origin is not None and not origin_allowed(request, origin, site.allowed_origins):
            raise KervanError(
                _("%(origin)s may not send events with this site key.") % {"origin": origin},
                "origin_not_allowed",
                status=403,
            )
        skew = None
        if payload.sent_at is not None:
            if payload.sent_at.tzinfo is None:
                raise KervanError(_("sent_at: needs a UTC offset."), "naive_datetime", status=422, field="sent_at")
            skew = clock.now() - payload.sent_at
        storefront = Storefront(site=site, address=address)
        storefronts.check_request(storefront, [item.anonymous_id for item in payload.batch])
        actor = Actor(scopes={"events": "write"}, ip_address=address)
        result = actions.events_ingest(
            actor=actor, items=payload.batch, default_source=site.source, clock_skew=skew, storefront=storefront
        )
        response = JsonResponse(
            {"accepted": result.accepted, "duplicates": result.duplicates, "identified": result.identified},
            status=202,
        )
    except KervanError as exc:
        response = json_error(exc.status, exc.detail, exc.code, field=exc.field)
        if getattr(exc, "retry_after", None):
            response["Retry-After"] = str(exc.retry_after)
    except DATABASE_UNAVAILABLE_ERRORS:
        response = json_error(503, str(DATABASE_UNAVAILABLE_DETAIL), "database_unavailable")
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return allow_origin(response, origin)


def _read_body(request) -> bytes:
    """The body, refused with 413 (as JSON, like every answer here) past KERVAN_TRACKER_MAX_BODY: Django's own
    refusal of a body over DATA_UPLOAD_MAX_MEMORY_SIZE is an HTML page without the CORS headers."""
    limit = settings.KERVAN_TRACKER_MAX_BODY
    too_large = KervanError(
        _("The request body is larger than %(size)s KB; send fewer events at a time.") % {"size": limit // 1024},
        "request_too_large",
        status=413,
    )
    return read_body(request, limit, too_large)


def _collect_limit() -> int:
    return getattr(settings, "KERVAN_TRACKER_RATE_LIMIT", 600)  # requests/minute per client IP


def _own_origin(request) -> str:
    return f"{request.scheme}://{request.get_host()}"


def origin_allowed(request, origin: str, allowed) -> bool:
    """Whether a page on `origin` may use a tracker site's key: one of the site's origins, or Kervan's own."""
    return origin == _own_origin(request) or origin in allowed


def preflight(request, origin):
    """A CORS preflight from a shop's page, for the public storefront endpoints (the tracker's collect, the push
    prompt's): allowed for the origins of any active tracker site."""
    if origin is None:
        return HttpResponse(status=204)
    allowed = any(origin in s.allowed_origins for s in selectors.tracker_sites().filter(is_active=True))
    if not (allowed or origin == _own_origin(request)):
        return json_error(
            403,
            _("%(origin)s is not an allowed origin for any tracker site.") % {"origin": origin},
            "origin_not_allowed",
        )
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "86400"
    return allow_origin(response, origin)


@require_access("settings", "read")
def tracker_settings(request):
    """The copy-paste snippet for the storefront, with the site's publishable key and allowed origins; and, for
    those who may change settings, the identity secret the shop's server signs logged-in customers with."""
    site = actions.tracker_site_default(actor=request.actor)
    can_write = request.actor.can("settings", "write")
    if request.method == "POST":
        if not can_write:
            return render(request, "403.html", {"domain": "settings", "access": "write"}, status=403)
        if request.POST.get("action") == "rotate_secret":
            actions.tracker_site_rotate_secret(actor=request.actor, site=site)
            messages.success(request, _("A new identity secret is in use; give it to your shop's server."))
            return redirect("events:tracker")
        origins = request.POST.get("allowed_origins", "").split()
        try:
            actions.tracker_site_update(actor=request.actor, site=site, allowed_origins=origins)
        except KervanError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, _("Allowed origins saved."))
            return redirect("events:tracker")
    context = {
        "site": site,
        "snippet": _snippet(request, site),
        # The storefront chat widget (kervan.support.chat_public_views), also loaded by the tracker's data-chat.
        "chat_snippet": f'<script async src="{request.build_absolute_uri("/chat/widget.js")}"'
        " data-kervan-chat></script>",
        "can_write": can_write,
        # Only shown to those who may change settings: with it, anyone could sign in as any customer's visitor.
        "identity_secret": site.identity_secret if can_write else "",
    }
    return render(request, "events/tracker.html", context)


@require_access("settings", "read")
def tracker_demo(request):
    """A sample storefront page running the snippet: try the tracker without a shop."""
    site = actions.tracker_site_default(actor=request.actor)
    return render(request, "events/demo_store.html", {"site": site, "snippet": _snippet(request, site)})


def _snippet(request, site) -> str:
    src = request.build_absolute_uri("/events/tracker.js")
    return (
        "<script>!function(w,m){var k=w.kervan=w.kervan||{q:[]};m.forEach(function(n){k[n]=k[n]||function(){"
        "k.q.push([n,[].slice.call(arguments)])}})}(window,"
        '["track","identify","viewedProduct","addedToCart","startedCheckout"]);</script>\n'
        f'<script async src="{src}" data-key="{site.public_key}"></script>'
    )


# The event list (the workspace's list framework) and its live poll. Imported here, not at the top, to keep this part
# of the module apart from the tracker's views above.
@require_access("events", "read")
def event_list(request):
    """Every event, newest first, filtered by name, customer, property and time; new ones appear while it is open."""
    from kervan.events.lists import EVENT_LIST
    from kervan.workspace.lists import render_list

    return render_list(request, EVENT_LIST)


@require_GET
@require_access("events", "read")
def event_list_live(request):
    """The rows of the list (same filters and columns) newer than `after`, the newest shown, to prepend, with the
    poller carrying the new newest; 204 when there is nothing new. Without `after` (the page showed no rows) or
    with more new rows than a page, the page is reloaded instead (HX-Refresh)."""
    from kervan.events.lists import EVENT_LIST
    from kervan.workspace.lists import PAGE_SIZE, read_state, run_query

    state = read_state(EVENT_LIST, request.GET)
    qs, _order = run_query(request.actor, state)
    after = request.GET.get("after", "")
    if not after:
        return _reload_page() if qs.exists() else HttpResponse(status=204)
    try:
        position = selectors.read_marker(after)
    except KervanError as exc:
        return json_error(400, exc.detail, exc.code, field="after")
    rows = selectors.events_newer(qs, after=position, limit=PAGE_SIZE + 1)
    if not rows:
        return HttpResponse(status=204)
    if len(rows) > PAGE_SIZE:
        return _reload_page()
    return render(
        request,
        "events/_live_rows.html",
        {
            "page": {"items": rows},
            "cols": state.cols,
            "bulk": [],
            "query": state.query_string(),
            "marker": selectors.event_marker(rows[0]),
            "oob": True,
        },
    )


def _reload_page() -> HttpResponse:
    response = HttpResponse(status=200)
    response["HX-Refresh"] = "true"
    return response
