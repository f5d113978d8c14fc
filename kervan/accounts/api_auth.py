"""API authentication: API keys (Bearer) for machines, the login session (with CSRF) for the web UI.

Both resolve to an Actor; the per-key rate limit is applied here, before any work is done.
"""

import ipaddress
import time

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _
from ninja.security import HttpBearer, SessionAuth
from ninja.utils import check_csrf

from kervan.accounts.actors import Actor
from kervan.accounts.models import ApiKey
from kervan.accounts.throttle import RateLimited
from kervan.core.errors import KervanError


def client_ip(request) -> str | None:
    """The address of the client (the audit log's, the tracker's rate limit's): REMOTE_ADDR, or behind
    settings.KERVAN_TRUSTED_PROXIES proxies the address the outermost of them was reached from. A forwarded list
    shorter than that, or not an address, means the proxies are not set up as said: REMOTE_ADDR then."""
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.KERVAN_TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "") if proxies else ""
    if not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",")]
    if len(hops) < proxies:
        return remote
    try:
        return str(ipaddress.ip_address(hops[-proxies]))
    except ValueError:
        return remote


def check_rate_limit(api_key_id: int, limit: int | None = None) -> None:
    """Fixed one-minute window per API key, counted in the shared cache (Redis across machines).

    One cache call per request: incr the window's counter, and only when it does not exist yet (the first request
    of the window) create it."""
    limit = limit or settings.KERVAN_API_RATE_LIMIT
    window = int(time.time() // 60)
    counter = f"ratelimit:{api_key_id}:{window}"
    try:
        used = cache.incr(counter)
    except ValueError:  # first request of the window, or the counter expired
        if cache.add(counter, 1, timeout=61):
            return
        used = cache.incr(counter)  # another request created it in between
    if used > limit:
        raise RateLimited(
            _("Too many requests for this API key; slow down."), "rate_limited", retry_after=60 - int(time.time()) % 60
        )


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request, token: str):
        parts = token.split("_")
        if len(parts) < 3 or parts[0] != "kv":
            return None
        # Read on every call: from the shared cache when there is one (revoking and touching announce the change).
        key = ApiKey.cached.get(
            parts[1], "key", lambda: ApiKey.objects.filter(prefix=parts[1], revoked_at__isnull=True).first()
        )
        if key is None or key.key_hash != ApiKey.hash_secret(token):
            return None
        check_rate_limit(key.pk)
        key.touch()
        actor = Actor.for_api_key(key, client_ip(request))
        request.actor = actor
        return actor


class StaffSessionAuth(SessionAuth):
    """The logged-in staff user; refused when their role demands 2FA and this session has not passed it.

    CSRF is checked only for a request that carries a logged-in session: it protects that session's cookie from
    other sites. A request with no session (no key, no login) is simply not authenticated, 401 like any other;
    django-ninja's own order (CSRF first) answered it 403 "CSRF check Failed", which sent clients looking for a CSRF
    token they do not need."""

    def _get_key(self, request):
        if not (request.user.is_authenticated and request.user.is_active):
            return None
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request) is not None:
            raise KervanError(
                _("CSRF check failed: a logged-in browser must send the X-CSRFToken header (or use an API key)."),
                "csrf_failed",
                status=403,
            )
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request, key):
        user = request.user
        if not user.is_authenticated or not user.is_active:
            return None
        from kervan.accounts.two_factor import session_needs_two_factor

        if session_needs_two_factor(request):
            return None
        actor = Actor.for_user(user, client_ip(request))
        request.actor = actor
        return actor
