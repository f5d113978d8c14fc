"""The live chat's WebSocket routes (config/asgi.py). The visitor's socket comes from the shop's pages, so its Origin
may be a storefront's (a tracker site's allowed origin) as well as Kervan's own; the agent's socket carries the staff
session cookie, so only Kervan's own hosts may open it (a foreign page must not ride on a signed-in agent's cookie)."""

from urllib.parse import urlparse

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier
from django.conf import settings
from django.http.request import validate_host
from django.urls import path

from kervan.support import consumers


def _origin_of(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"origin":
            return value.decode("latin1")
    return None


@database_sync_to_async
def _storefront_origin(origin: str) -> bool:
    from kervan.events import selectors

    return any(origin in site.allowed_origins for site in selectors.tracker_sites().filter(is_active=True))


def own_origin(origin: str) -> bool:
    host = urlparse(origin).hostname or ""
    return bool(host) and validate_host(host, settings.ALLOWED_HOSTS)


class StorefrontOriginValidator:
    """Lets a visitor's socket in from Kervan's own hosts, a tracker site's allowed origin, or a client that sends
    no Origin (not a browser: it carries no one's cookies)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        origin = _origin_of(scope)
        if origin is None or own_origin(origin) or await _storefront_origin(origin):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def websocket_application():
    return URLRouter(
        [
            path("ws/chat/visitor/", StorefrontOriginValidator(consumers.VisitorConsumer.as_asgi())),
            path("ws/chat/agent/", AllowedHostsOriginValidator(AuthMiddlewareStack(consumers.AgentConsumer.as_asgi()))),
        ]
    )
