from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from kervan.core.errors import DATABASE_UNAVAILABLE_DETAIL, KervanError


class KervanErrorMiddleware:
    """A KervanError escaping a web view becomes a friendly page with its status (404, 403, 400…), not a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, KervanError):
            return render(request, "error.html", {"error": exception}, status=exception.status)
        return None


_API_ERRORS = {
    400: (_("The request could not be read."), "malformed_request"),
    401: (_("Authentication required: send a valid API key or log in."), "not_authenticated"),
    403: (_("You do not have permission to do this."), "permission_denied"),
    404: (_("Not found."), "not_found"),
    405: (_("This endpoint does not accept this method."), "method_not_allowed"),
    409: (_("This conflicts with the current state; reload and try again."), "conflict"),
    413: (_("The request body is too large."), "request_too_large"),
    429: (_("Too many requests; wait a moment and try again."), "rate_limited"),
    500: (_("Something went wrong on our side; it has been logged."), "server_error"),
    503: (DATABASE_UNAVAILABLE_DETAIL, "database_unavailable"),
}


class ApiErrorBodyMiddleware:
    """Every error under /api/ has the one shape {"detail", "code"}: also the few that Django or django-ninja
    answer in HTML or plain text before an API handler runs (a method the path lacks, a bad Host header)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path_info.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            detail, code = _API_ERRORS.get(response.status_code, (_("The request failed."), "error"))
            shaped = JsonResponse({"detail": str(detail), "code": code}, status=response.status_code)
            for header in ("Allow", "Retry-After"):
                if response.has_header(header):
                    shaped[header] = response[header]
            return shaped
        return response


class ContentSecurityPolicyMiddleware:
    """Send the Content-Security-Policy of settings.KERVAN_CSP ({directive: [sources]}) on every response that does
    not set its own. The pages carry no inline script or event handler (kervan/core/static/kervan/app.js binds the
    few behaviours by data attributes), so script-src is 'self' alone: an injected <script> does not run.

    Django's debug page for a crash (DEBUG only) runs inline script: it is left without the header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response
        self.debug = settings.DEBUG
        self.header = "; ".join(" ".join([directive, *sources]) for directive, sources in settings.KERVAN_CSP.items())

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if self.header and "Content-Security-Policy" not in response:
            if not (self.debug and response.status_code >= 500):
                response["Content-Security-Policy"] = self.header
        return response
