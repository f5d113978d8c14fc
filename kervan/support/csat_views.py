"""The public CSAT page (/help/csat/<token>/), in the survey's language, without a session like the help centre.

GET with ?score=1…5 (a link in the survey email) records the score at once and shows the comment box; GET without
a score shows the five choices. The comment form posts back to the same address: the signed token in the address
stands in for a CSRF cookie (whoever holds it may answer this one survey anyway), and a browser's Origin, when
sent, must be this site. Answers are counted per address like the help centre's feedback (429 over the limit)."""

from django.conf import settings
from django.http import Http404, HttpResponseRedirect
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from kervan.accounts import throttle
from kervan.accounts.api_auth import client_ip
from kervan.core.errors import KervanError
from kervan.support import csat
from kervan.support.public_views import _page, _rate_limited, _same_origin

DEFAULT_LIMIT = (30, 3600)  # answers per address (KERVAN_HELP_LIMITS["csat"] overrides)
_LIMITED = gettext_lazy("Too many answers from your address; please try again later.")


def _limit() -> throttle.Limit:
    return throttle.Limit.of((getattr(settings, "KERVAN_HELP_LIMITS", None) or {}).get("csat", DEFAULT_LIMIT))


def _check_rate(request, language: str) -> None:
    with translation.override(language):
        detail = str(_LIMITED)
    throttle.check(
        f"help:csat:{throttle.hashed(client_ip(request))}", _limit(), detail=detail, code="csat_rate_limited"
    )


def _render(request, survey, *, status: int = 200, error: KervanError | None = None, saved: bool = False):
    context = {
        "survey": survey,
        "ticket_number": survey.ticket.number,
        # Relative links: the page answers on whatever address it was opened at.
        "scores": [(score, str(label), f"{request.path}?score={score}") for score, label in csat.SCORES],
        "action": request.path,
        "error": error,
        "saved": saved,
    }
    return _page(request, "support/csat/survey.html", survey.language, context, status=status, cache=False)


@csrf_exempt  # a session-less form: the signed token in the address and the Origin check stand in for CSRF
@require_http_methods(["GET", "POST"])
def survey(request, token: str):
    found = csat.survey_from_token(token)
    if found is None:
        raise Http404
    language = found.language
    if request.method == "POST":
        if not _same_origin(request):
            with translation.override(language):
                detail = _("Answers are taken from this site's own pages only.")
            return _page(request, "support/help/limited.html", language, {"detail": detail}, status=403)
        score = request.POST.get("score") or found.score
        comment = request.POST.get("comment", "")
    else:
        score, comment = request.GET.get("score"), None
        if score is None:
            return _render(request, found, saved=request.GET.get("saved") == "1")
    try:
        _check_rate(request, language)
        with translation.override(language):
            csat.csat_answer(survey=found, score=score, comment=comment)
    except throttle.RateLimited as error:
        return _rate_limited(request, language, error)
    except KervanError as error:
        return _render(request, found, status=error.status, error=error)
    if request.method == "POST":  # post/redirect/get: reloading the thanks sends nothing again
        return HttpResponseRedirect(request.path + "?saved=1")
    return _render(request, found)
