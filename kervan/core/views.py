"""Error pages Django itself calls."""

import sys

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from kervan.core.errors import DATABASE_RETRY_AFTER_SECONDS, DATABASE_UNAVAILABLE_DETAIL, DATABASE_UNAVAILABLE_ERRORS


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database outage anywhere (a view, or middleware loading the session or the user) is a 503
    with Retry-After; anything else the plain 500 page. Neither page touches the database."""
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE_ERRORS):
        context = {"title": _("Try again shortly"), "detail": DATABASE_UNAVAILABLE_DETAIL}
        html = render_to_string("error_plain.html", context)
        response = HttpResponse(html, status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
    html = render_to_string(
        "error_plain.html",
        {"title": _("Something is not right"), "detail": _("Something went wrong on our side; it has been logged.")},
    )
    return HttpResponseServerError(html)
