"""Error pages Django itself calls (config/urls.py: handler404, handler500). DEBUG is off wherever Kervan serves
(`make run`, production), so these are what a user sees: in the UI language (the language cookie, else the browser's
Accept-Language, else Turkish; LocaleMiddleware has chosen it), never Django's debug page with the URL list."""

import sys

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from kervan.core.errors import DATABASE_RETRY_AFTER_SECONDS, DATABASE_UNAVAILABLE_DETAIL, DATABASE_UNAVAILABLE_ERRORS


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: a page that does not exist, with the top bar for a signed-in user so they can go on from here.
    (Under /api/ the API answers its own JSON 404.)"""
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database outage anywhere (a view, or middleware loading the session or the user) — or SQLite's
    write lock held too long by an import or the task worker — is a 503 with Retry-After; anything else the plain
    500 page. Neither page touches the database."""
    language = get_language() or "tr"
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE_ERRORS):
        context = {"title": _("Try again shortly"), "detail": DATABASE_UNAVAILABLE_DETAIL, "language": language}
        html = render_to_string("error_plain.html", context)
        response = HttpResponse(html, status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
    html = render_to_string(
        "error_plain.html",
        {
            "title": _("Something is not right"),
            "detail": _("Something went wrong on our side; it has been logged."),
            "language": language,
        },
    )
    return HttpResponseServerError(html)
