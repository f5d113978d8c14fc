"""The public help centre (/help/ in Turkish, /help/en/ in English): categories, articles and search, as plain
server-rendered HTML that needs no JavaScript and no session.

Pages are the same for every reader, so they are rendered without the request (no session, no cookie, no CSRF
cookie: nothing that would make them private) and sent with Cache-Control: public and an ETag, which a CDN or the
browser revalidates with a 304. The "Was this helpful?" form carries a signed token for its article and language
instead of a CSRF cookie, and the feedback view checks that token and, when the browser sends one, that the Origin
is this site — which is what CSRF protection gives a form that has no session to ride on. Searches and feedback
are counted per address (kervan.accounts.throttle, as the tracker's limits): over a limit the answer is 429.
The contact form (/help/contact/) works the same way and turns a message into a ticket (channel web_form).
"""

import hashlib
import hmac

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from kervan.accounts import throttle
from kervan.accounts.actors import Actor
from kervan.accounts.api_auth import client_ip
from kervan.core import clock
from kervan.core.errors import KervanError
from kervan.support import actions, markup, search, selectors
from kervan.support.models import Article
from kervan.support.ticket_actions import ticket_create

DEFAULT_LIMITS = {"search": (60, 60), "feedback": (20, 3600), "contact": (5, 3600)}  # (requests, seconds) per address
PAGE_MAX_AGE = 60  # seconds a page may be served from a cache before it is revalidated
_FEEDBACK_SALT = "kervan.support.feedback"
_CONTACT_SALT = "kervan.support.contact"


def limit(name: str) -> throttle.Limit:
    return throttle.Limit.of({**DEFAULT_LIMITS, **getattr(settings, "KERVAN_HELP_LIMITS", {})}[name])


def _url(name: str, language: str, *args) -> str:
    return reverse(f"help:{name}_{language}", args=args)


def _page(request, template: str, language: str, context: dict, *, status: int = 200, cache: bool = True):
    with translation.override(language):
        base = {
            "language": language,
            "home_url": _url("index", language),
            "search_url": _url("search", language),
            "other_language": "en" if language == "tr" else "tr",
            "other_url": _url("index", "en" if language == "tr" else "tr"),
            "contact_url": _url("contact", language),
        }
        html = get_template(template).render({**base, **context})  # no request: no session, no cookies
    response = HttpResponse(html, status=status)
    response["Content-Language"] = language
    if cache and status == 200:
        response["ETag"] = '"' + hashlib.sha256(response.content).hexdigest()[:32] + '"'
        patch_cache_control(response, public=True, max_age=PAGE_MAX_AGE)
        return get_conditional_response(request, etag=response["ETag"], response=response)
    patch_cache_control(response, no_store=True)
    return response


_LIMITED = {
    "search_rate_limited": gettext_lazy("Too many searches from your address; please wait a minute and try again."),
    "feedback_rate_limited": gettext_lazy("Too many answers from your address; please try again later."),
    "contact_rate_limited": gettext_lazy("Too many messages from your address; please try again later."),
}


def _rate_limited(request, language: str, error: throttle.RateLimited):
    with translation.override(language):  # the page's language, not the visitor's browser's
        detail = str(_LIMITED.get(error.code, error.detail))
    response = _page(request, "support/help/limited.html", language, {"detail": detail}, status=429)
    response["Retry-After"] = str(error.retry_after)
    return response


@require_GET
def index(request, language: str):
    return _page(request, "support/help/index.html", language, {"categories": selectors.public_categories(language)})


@require_GET
def category(request, language: str, slug: str):
    found, texts = selectors.public_category(slug, language)
    if found is None:
        raise Http404
    return _page(
        request,
        "support/help/category.html",
        language,
        {"category": found, "name": found.name(language), "texts": texts},
    )


def feedback_token(article: Article, language: str) -> str:
    return signing.dumps([article.pk, language], salt=_FEEDBACK_SALT, compress=False)


@require_GET
def article(request, language: str, slug: str):
    text = selectors.public_article(slug, language)
    if text is None:
        raise Http404
    thanks = request.GET.get("feedback") in ("yes", "no")
    return _page(
        request,
        "support/help/article.html",
        language,
        {
            "text": text,
            "body": markup.render(text.body),
            "category_name": text.article.category.name(language),
            "category_url": _url("category", language, text.article.category.slug),
            "feedback_url": _url("feedback", language, text.article.slug),
            "token": feedback_token(text.article, language),
            "thanks": thanks,
        },
    )


@require_GET
def search_page(request, language: str):
    text = request.GET.get("q", "").replace("\x00", "")[: search.QUERY_MAX]
    results = []
    if text.strip():
        try:
            throttle.check(
                f"help:search:{throttle.hashed(client_ip(request))}",
                limit("search"),
                detail=str(_LIMITED["search_rate_limited"]),
                code="search_rate_limited",
            )
        except throttle.RateLimited as error:
            return _rate_limited(request, language, error)
        _query, results = search.search(text, language, record_miss=True)
    rows = [(t, markup.plain(t.body)[:220]) for t in results]
    return _page(request, "support/help/search.html", language, {"q": text, "rows": rows}, cache=False)


def _visitor(request, article_id: int) -> str:
    """A keyed hash of the reader's address and browser (and the day): one reader, one vote per article per day,
    and neither the address nor the browser is stored."""
    day = timezone.localdate(clock.now()).isoformat()
    parts = f"{client_ip(request)}\x1f{request.META.get('HTTP_USER_AGENT', '')[:300]}\x1f{article_id}\x1f{day}"
    return hmac.new(settings.SECRET_KEY.encode(), parts.encode(), hashlib.sha256).hexdigest()


def _same_origin(request) -> bool:
    origin = request.META.get("HTTP_ORIGIN")
    if not origin or origin == "null":
        return origin is None  # no Origin (an old browser, a plain form): the signed token decides; "null": refuse
    return url_has_allowed_host_and_scheme(origin + "/", allowed_hosts={request.get_host()})


@csrf_exempt  # a session-less form: the signed token and the Origin check stand in for the CSRF cookie (see above)
@require_POST
def feedback(request, language: str, slug: str):
    text = selectors.public_article(slug, language)
    if text is None:
        raise Http404
    answer = request.POST.get("helpful", "")
    try:
        article_id, token_language = signing.loads(
            request.POST.get("token", ""), salt=_FEEDBACK_SALT, max_age=7 * 86_400
        )
    except (signing.BadSignature, ValueError, TypeError):
        article_id, token_language = None, None
    if (article_id, token_language) != (text.article.pk, language) or answer not in ("yes", "no"):
        with translation.override(language):
            detail = _("This form has expired; reload the page and answer again.")
        return _page(request, "support/help/limited.html", language, {"detail": detail}, status=400)
    if not _same_origin(request):
        with translation.override(language):
            detail = _("Answers are taken from this site's own pages only.")
        return _page(request, "support/help/limited.html", language, {"detail": detail}, status=403)
    try:
        throttle.check(
            f"help:feedback:{throttle.hashed(client_ip(request))}",
            limit("feedback"),
            detail=str(_LIMITED["feedback_rate_limited"]),
            code="feedback_rate_limited",
        )
        actions.feedback_record(
            article=text.article, helpful=answer == "yes", language=language, visitor=_visitor(request, text.article.pk)
        )
    except throttle.RateLimited as error:
        return _rate_limited(request, language, error)
    except KervanError:
        raise Http404
    # Post/redirect/get: the thanks is a page of its own, so reloading it sends nothing again.
    return HttpResponseRedirect(_url("article", language, text.article.slug) + f"?feedback={answer}#feedback")


# ---------------------------------------------------------------- the contact form: a message becomes a ticket

CONTACT_FIELDS = ("name", "email", "subject", "message")


def _contact_page(request, language: str, values: dict, *, status: int = 200, error: KervanError | None = None):
    token = signing.dumps(["contact", language], salt=_CONTACT_SALT, compress=False)
    context = {"values": values, "token": token, "error": error, "sent": request.GET.get("sent") == "1"}
    return _page(request, "support/help/contact.html", language, context, status=status, cache=False)


@csrf_exempt  # session-less like the feedback form: a signed token and the Origin check stand in for CSRF
def contact(request, language: str):
    """GET: the form (a thanks after sending). POST: a ticket for the email address given (channel web_form),
    limited per address like the searches."""
    values = {key: "" for key in CONTACT_FIELDS}
    if request.method != "POST":
        return _contact_page(request, language, values)
    values = {key: request.POST.get(key, "")[:60_000] for key in CONTACT_FIELDS}
    try:
        kind, token_language = signing.loads(request.POST.get("token", ""), salt=_CONTACT_SALT, max_age=86_400)
    except (signing.BadSignature, ValueError, TypeError):
        kind, token_language = None, None
    if (kind, token_language) != ("contact", language):
        with translation.override(language):
            error = KervanError(_("This form has expired; reload the page and send it again."), "form_expired")
        return _contact_page(request, language, values, status=400, error=error)
    if not _same_origin(request):
        with translation.override(language):
            detail = _("Messages are taken from this site's own pages only.")
        return _page(request, "support/help/limited.html", language, {"detail": detail}, status=403)
    try:
        throttle.check(
            f"help:contact:{throttle.hashed(client_ip(request))}",
            limit("contact"),
            detail=str(_LIMITED["contact_rate_limited"]),
            code="contact_rate_limited",
        )
    except throttle.RateLimited as error:
        return _rate_limited(request, language, error)
    with translation.override(language):  # refusals in the page's language
        try:
            if not values["email"].strip():
                raise KervanError(_("Please give your email address."), "required", field="requester_email")
            ticket_create(
                actor=Actor.system(),
                channel="web_form",
                requester_email=values["email"],
                requester_name=values["name"],
                subject=values["subject"],
                body=values["message"],
            )
        except KervanError as error:
            return _contact_page(request, language, values, status=400, error=error)
    return HttpResponseRedirect(_url("contact", language) + "?sent=1")
