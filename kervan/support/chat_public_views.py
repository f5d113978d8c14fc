"""/chat/…: what the storefront's chat widget calls over HTTP (the conversation itself runs over the WebSocket,
kervan.support.consumers). Public like the tracker's collect endpoint: no session, answers CORS for Kervan's own
origin and the tracker sites' allowed origins, JSON errors {"detail", "code"}, rate-limited per address
(settings.KERVAN_CHAT_LIMITS; kervan.accounts.throttle).

- POST /chat/start/   {"name"?, "email"?, "language"?, "page_url"?, "anonymous_id"?} → 201 {"key", "agents_online"}
- GET  /chat/status/  → {"agents_online"}
- POST /chat/offline/ {"name"?, "email", "message", "language"?, "page_url"?, "anonymous_id"?} → 201 {"ticket"}
- GET  /chat/widget.js, /chat/widget.css → the widget (kervan/support/static/support/chat-widget.*)
"""

from pathlib import Path

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from pydantic import Field

from kervan.accounts import throttle
from kervan.accounts.api_auth import client_ip
from kervan.core.api import InputSchema
from kervan.core.errors import KervanError
from kervan.core.web import allow_origin, json_error, parse_json, read_body
from kervan.support import chat_actions, chat_selectors

STATIC = Path(__file__).parent / "static" / "support"
BODY_MAX = 32 * 1024
DEFAULT_LIMITS = {"address_requests": (60, 60), "address_starts": (10, 600), "address_offline": (5, 600)}
_sources: dict[str, bytes] = {}


class StartIn(InputSchema):
    name: str = Field("", max_length=200)
    email: str = Field("", max_length=254)
    language: str = Field("tr", max_length=5)
    page_url: str = Field("", max_length=2000)
    anonymous_id: str = Field("", max_length=64)


class OfflineIn(StartIn):
    message: str = Field(max_length=chat_actions.MESSAGE_MAX)


def _limit(name: str) -> throttle.Limit:
    return throttle.Limit.of({**DEFAULT_LIMITS, **getattr(settings, "KERVAN_CHAT_LIMITS", {})}[name])


def _origin_allowed(request, origin: str | None) -> bool:
    if origin is None or origin == f"{request.scheme}://{request.get_host()}":
        return True
    from kervan.events import selectors

    return any(origin in site.allowed_origins for site in selectors.tracker_sites().filter(is_active=True))


def _public(view):
    """CORS, the per-address limit and the one error shape around a widget endpoint."""

    @csrf_exempt  # no session rides on these: the visitor's key is in the body, never in a cookie
    def wrapped(request):
        origin = request.headers.get("Origin")
        try:
            if not _origin_allowed(request, origin):
                raise KervanError(
                    _("%(origin)s may not use the chat.") % {"origin": origin}, "origin_not_allowed", status=403
                )
            if request.method == "OPTIONS":
                response = HttpResponse(status=204)
                response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                response["Access-Control-Allow-Headers"] = "Content-Type"
                response["Access-Control-Max-Age"] = "86400"
                return allow_origin(response, origin)
            throttle.check(
                f"chat:address:{throttle.hashed(client_ip(request))}",
                _limit("address_requests"),
                detail=_("Too many requests from this address; try again in a minute."),
                code="rate_limited",
            )
            response = view(request)
        except KervanError as exc:
            response = json_error(exc.status, exc.detail, exc.code, field=exc.field)
            if getattr(exc, "retry_after", None):
                response["Retry-After"] = str(exc.retry_after)
        return allow_origin(response, origin if origin is not None and _origin_allowed(request, origin) else None)

    return wrapped


def _post_body(request, schema):
    if request.method != "POST":
        raise KervanError(_("Use POST."), "method_not_allowed", status=405)
    too_large = KervanError(_("The request body is too large."), "request_too_large", status=413)
    return parse_json(schema, read_body(request, BODY_MAX, too_large), status=422)


@_public
def start(request):
    data = _post_body(request, StartIn)
    throttle.check(
        f"chat:starts:{throttle.hashed(client_ip(request))}",
        _limit("address_starts"),
        detail=_("Too many chats from this address; try again later."),
        code="rate_limited",
    )
    conversation = chat_actions.chat_start(
        name=data.name,
        email=data.email,
        language=data.language,
        page_url=data.page_url,
        anonymous_id=data.anonymous_id,
    )
    return JsonResponse({"key": conversation.visitor_key, "agents_online": chat_selectors.agents_online()}, status=201)


@_public
def status(request):
    if request.method != "GET":
        raise KervanError(_("Use GET."), "method_not_allowed", status=405)
    response = JsonResponse({"agents_online": chat_selectors.agents_online()})
    response["Cache-Control"] = "no-store"
    return response


@_public
def offline(request):
    throttle.check(
        f"chat:offline:{throttle.hashed(client_ip(request))}",
        _limit("address_offline"),
        detail=_("Too many messages from this address; try again later."),
        code="rate_limited",
    )
    data = _post_body(request, OfflineIn)
    ticket = chat_actions.chat_offline(
        name=data.name,
        email=data.email,
        message=data.message,
        language=data.language,
        page_url=data.page_url,
        anonymous_id=data.anonymous_id,
    )
    return JsonResponse({"ticket": ticket.number}, status=201)


def _asset(name: str, content_type: str) -> HttpResponse:
    if name not in _sources or settings.DEBUG:
        _sources[name] = (STATIC / name).read_bytes()
    response = HttpResponse(_sources[name], content_type=content_type)
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"  # a shop's page loads it; it holds nothing private
    return response


@require_GET
def widget_js(request):
    return _asset("chat-widget.js", "application/javascript; charset=utf-8")


@require_GET
def widget_css(request):
    return _asset("chat-widget.css", "text/css; charset=utf-8")
