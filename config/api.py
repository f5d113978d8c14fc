"""The HTTP API under /api/v1: one NinjaAPI, one error shape ({"detail", "code"}), routers from each domain."""

import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from kervan.accounts.api import router as accounts_router
from kervan.accounts.api_auth import ApiKeyAuth, StaffSessionAuth
from kervan.accounts.throttle import RateLimited
from kervan.campaigns.api import router as campaigns_router
from kervan.catalog.api import router as catalog_router
from kervan.core.api import ApiParser
from kervan.core.api_json import ORJSONRenderer
from kervan.core.errors import (
    DATABASE_RETRY_AFTER_SECONDS,
    DATABASE_UNAVAILABLE_DETAIL,
    DATABASE_UNAVAILABLE_ERRORS,
    KervanError,
)
from kervan.currency.api import router as currency_router
from kervan.customer360.api import add_routes as add_customer360_routes
from kervan.customers.api import router as customers_router
from kervan.events.api import router as events_router
from kervan.flows.api import router as flows_router
from kervan.imports.api import router as imports_router
from kervan.integrations.api import router as integrations_router
from kervan.messaging.api import router as messaging_router
from kervan.orders.api import router as orders_router
from kervan.outbound.api import router as outbound_router
from kervan.predictions.api import router as predictions_router
from kervan.segments.api import router as segments_router
from kervan.support.api import router as support_router

logger = logging.getLogger("kervan.api")

api = NinjaAPI(
    title="Kervan API",
    version="1",
    urls_namespace="api",
    auth=[ApiKeyAuth(), StaffSessionAuth()],
    docs_url="/docs",
    renderer=ORJSONRenderer(),
    parser=ApiParser(),
)


def error(request, status: int, detail: str, code: str, **extra):
    return api.create_response(request, {"detail": detail, "code": code, **extra}, status=status)


@api.exception_handler(KervanError)
def kervan_error(request, exc: KervanError):
    extra = {"field": exc.field} if exc.field else {}
    # A refusal may carry more for the client to act on (an order's differing fields); never "detail" or "code".
    extra.update({k: v for k, v in (getattr(exc, "extra", None) or {}).items() if k not in ("detail", "code")})
    response = error(request, exc.status, exc.detail, exc.code, **extra)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    errors = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "payload", "query", "path")),
            "message": e.get("msg", ""),
        }
        for e in exc.errors
    ]
    first = errors[0] if errors else {"field": "", "message": "invalid input"}
    detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return error(request, 422, detail, "validation_error", errors=errors)


@api.exception_handler(AuthenticationError)
def authentication_error(request, exc):
    return error(request, 401, _("Authentication required: send a valid API key or log in."), "not_authenticated")


@api.exception_handler(Http404)
def not_found(request, exc):
    return error(request, 404, _("Not found."), "not_found")


HTTP_ERROR_CODES = {
    400: "malformed_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    429: "rate_limited",
}


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    return error(request, exc.status_code, str(exc), HTTP_ERROR_CODES.get(exc.status_code, "error"))


@api.exception_handler(RequestDataTooBig)
def request_too_large(request, exc):
    return error(request, 413, "The request body is too large.", "request_too_large")


@api.exception_handler(SuspiciousOperation)
@api.exception_handler(MultiPartParserError)
@api.exception_handler(UnreadablePostError)
def malformed_request(request, exc):
    # A multipart body without a boundary, too many form fields, a body cut short: the client's fault, not ours.
    return error(request, 400, "The request body could not be read.", "malformed_request")


def database_unavailable(request, exc):
    logger.warning("api.database_unavailable", extra={"path": request.path, "error": str(exc)})
    response = error(request, 503, str(DATABASE_UNAVAILABLE_DETAIL), "database_unavailable")
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


for database_error in DATABASE_UNAVAILABLE_ERRORS:
    api.add_exception_handler(database_error, database_unavailable)


@api.exception_handler(Exception)
def unexpected_error(request, exc):
    logger.exception("api.unhandled_error", extra={"path": request.path})
    return error(request, 500, "Something went wrong on our side; it has been logged.", "server_error")


api.add_router("/accounts", accounts_router)
add_customer360_routes(customers_router)
api.add_router("/customers", customers_router)
api.add_router("/events", events_router)
api.add_router("/catalog", catalog_router)
api.add_router("/orders", orders_router)
api.add_router("/segments", segments_router)
api.add_router("/imports", imports_router)
api.add_router("/exchange-rates", currency_router)
api.add_router("/predictions", predictions_router)
api.add_router("/messaging", messaging_router)
api.add_router("/campaigns", campaigns_router)
api.add_router("/flows", flows_router)
api.add_router("/integrations", integrations_router)
api.add_router("/outbound", outbound_router)
api.add_router("/support", support_router)
