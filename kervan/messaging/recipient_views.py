"""What a message's recipient reaches: the open pixel, the click redirect, unsubscribe (one click, RFC 8058) and the
preference centre. No login: the signed token in the URL is the recipient's proof (kervan.messaging.tracking)."""

import base64

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from kervan.core import clock
from kervan.customers.consent import consent_record
from kervan.customers.consent_state import consent_state
from kervan.customers.models import ConsentRecord
from kervan.messaging import actions, tracking
from kervan.messaging.models import Message, Topic

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
CHANNELS = ("email", "sms", "push")


def _message(token: str, kind: str) -> tuple[Message, str] | None:
    found = tracking.read_token(token, kind)
    if found is None:
        return None
    message = Message.objects.select_related("customer").filter(pk=found[0]).first()
    return (message, found[1]) if message is not None else None


@never_cache
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    found = _message(token, "open")
    if found is not None:
        message = found[0]
        since = (clock.now() - message.sent_at).total_seconds() if message.sent_at else None
        actions.message_opened(
            message=message, machine=tracking.is_machine(request.headers.get("User-Agent", ""), since)
        )
    return HttpResponse(PIXEL, content_type="image/gif")  # a forged token still gets an image: nothing to learn


@never_cache
def click(request: HttpRequest, token: str) -> HttpResponse:
    found = _message(token, "click")
    if found is None:
        return _page(request, None, "messaging/link_invalid.html", status=404)
    message, url = found
    if not tracking.is_machine(request.headers.get("User-Agent", ""), None):
        actions.message_clicked(message=message, url=url)
    return HttpResponseRedirect(url)  # only ever the URL signed into the token: the message's own link


@csrf_exempt  # the token is the proof; mail clients' one-click POST (RFC 8058) carries no CSRF cookie
@require_http_methods(["GET", "POST"])
@never_cache
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    found = _message(token, "unsubscribe")
    if found is None:
        return _page(request, None, "messaging/link_invalid.html", status=404)
    message = found[0]
    if request.method == "POST":
        actions.opt_out(customer=message.customer, channel=message.channel, source="unsubscribe link", message=message)
        return _page(request, message, "messaging/unsubscribed.html")
    return _page(request, message, "messaging/unsubscribe.html")


@csrf_exempt  # the token is the proof (a recipient has no session here)
@require_http_methods(["GET", "POST"])
@never_cache
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    found = _message(token, "preferences")
    if found is None:
        return _page(request, None, "messaging/link_invalid.html", status=404)
    message = found[0]
    customer = message.customer
    saved = False
    if request.method == "POST":
        for channel in CHANNELS:
            wanted = request.POST.get(channel) == "on"
            now_granted = consent_state(customer, channel) == ConsentRecord.Status.GRANTED
            if wanted and not now_granted:
                consent_record(
                    actor=actions.Actor.system(),
                    customer=customer,
                    channel=channel,
                    status=ConsentRecord.Status.GRANTED,
                    source="preference centre",
                    iys_source=ConsentRecord.IysSource.WEB,
                )
            elif not wanted and now_granted:
                actions.opt_out(customer=customer, channel=channel, source="preference centre", message=message)
        turned_off = [t.pk for t in Topic.objects.all() if request.POST.get(f"topic-{t.pk}") != "on"]
        actions.topics_choose(customer=customer, turned_off=turned_off)
        customer.refresh_from_db()
        saved = True
    states = {c: consent_state(customer, c) == ConsentRecord.Status.GRANTED for c in CHANNELS}
    off = set(customer.topic_opt_outs.values_list("topic_id", flat=True))
    language = customer.language if customer.language in ("tr", "en") else "tr"
    topics = [{"id": t.pk, "name": t.name_in(language), "on": t.pk not in off} for t in Topic.objects.all()]
    return _page(request, message, "messaging/preferences.html", states=states, topics=topics, saved=saved)


def _page(request: HttpRequest, message: Message | None, template: str, status: int = 200, **context) -> HttpResponse:
    """In the recipient's language (their profile's), not the shop staff's."""
    language = (message.customer.language if message else "") or "tr"
    with translation.override(language if language in ("tr", "en") else "tr"):
        labels = {"email": _("Email"), "sms": _("SMS"), "push": _("Notifications")}
        extra = {}
        if message is not None:
            extra = {"channel_label": labels[message.channel], **tracking.links_for(message)}
        response = render(
            request,
            template,
            {"message": message, "language": language, "labels": labels, **extra, **context},
            status=status,
        )
    return response
