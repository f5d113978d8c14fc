"""What the SMS providers call back: Twilio's status callback and inbound messages, Netgsm's delivery report.

Plain Django views, wired to URLs by the messaging app. Each hands the news to kervan.messaging.actions
(message_delivery_update, sms_inbound), which are idempotent: a provider that repeats a report (they do, on any
timeout) changes nothing the second time, and these views answer it the same way.

Nothing here trusts the caller's word without proof: a Twilio request must carry a valid X-Twilio-Signature (HMAC-SHA1
with the account's auth token), and a Netgsm report, which Netgsm does not sign, must carry the secret `token` the
report URL was given (KERVAN_SMS["report_token"]). A forged "invalid number" report could otherwise suppress any
customer's number, and a forged "RET" opt a customer out.
"""

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from kervan.messaging.channels.sms import netgsm
from kervan.messaging.channels.sms.common import json_body
from kervan.messaging.channels.sms.twilio import ADDRESS_CODES as TWILIO_ADDRESS_CODES

CHANNEL = "sms"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

# Twilio's final statuses; the others (queued, sending, sent, accepted, scheduled…) are on the way and change nothing.
TWILIO_DELIVERED = frozenset({"delivered", "read"})
TWILIO_FAILED = frozenset({"failed", "undelivered"})
# Delivery error codes that say the number itself cannot receive SMS (besides the send-time ones): 30005 unknown
# destination handset, 30006 a landline or an unreachable carrier. 30003 (handset off), 30004 (blocked), 30007
# (carrier filtering) and 30008 (unknown) are about this message, not the number.
TWILIO_PERMANENT = frozenset(TWILIO_ADDRESS_CODES) | {30005, 30006}


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's StatusCallback: MessageSid, MessageStatus and, on failure, ErrorCode."""
    refused = _refuse_unsigned(request)
    if refused:
        return refused
    from kervan.messaging.actions import message_delivery_update

    sid = request.POST.get("MessageSid", "")
    status = request.POST.get("MessageStatus", "")
    if not sid:
        return _error(_("MessageSid is missing."), "invalid", 400)
    if status in TWILIO_DELIVERED:
        message_delivery_update(channel=CHANNEL, provider_id=sid, delivered=True)
    elif status in TWILIO_FAILED:
        code = request.POST.get("ErrorCode", "")
        message_delivery_update(
            channel=CHANNEL,
            provider_id=sid,
            delivered=False,
            error=f"Twilio {status}" + (f" {code}" if code else ""),
            permanent=code.isdigit() and int(code) in TWILIO_PERMANENT,
        )
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """An SMS sent to the shop's Twilio number: a "RET"/"STOP" reply opts the sender out (the action decides). The
    answer is empty TwiML: Kervan sends no automatic reply."""
    refused = _refuse_unsigned(request)
    if refused:
        return refused
    from kervan.messaging.actions import sms_inbound

    phone = request.POST.get("From", "")
    if phone:
        sms_inbound(phone=phone, text=request.POST.get("Body", ""), source="twilio")
    return HttpResponse(EMPTY_TWIML, content_type="text/xml; charset=utf-8")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def netgsm_report(request: HttpRequest) -> HttpResponse:
    """Netgsm's delivery report, with the report URL's secret `token` in the query: one message as `jobid` and
    `status` (SmsStatus) query or form parameters, or a JSON body shaped like the REST v2 report's answer
    ({"jobs": [{"jobid", "status", ...}]}). Statuses are read by netgsm.Report: 1 delivered, 0 and undocumented
    ones still pending (nothing changes), the others failed, a bad number's suppressing it."""
    expected = str(_sms_settings().get("report_token") or "")
    given = request.GET.get("token") or request.POST.get("token") or ""
    if not expected:
        return _error(_("SMS delivery reports are not configured."), "webhook_not_configured", 403)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return _error(_("The delivery report's token is wrong."), "invalid_token", 403)
    if request.method == "POST" and request.content_type == "application/json":
        reports = netgsm.parse_reports(json_body(request.body))
        if not reports:
            return _error(_("The report names no message with a numeric status."), "invalid", 400)
    else:
        params = request.POST if request.method == "POST" else request.GET
        jobid = params.get("jobid", "").strip()
        status = netgsm.report_status(params.get("status"))
        if not jobid or status is None:
            return _error(_("jobid and a numeric status are required."), "invalid", 400)
        reports = [netgsm.Report(jobid=jobid, status=status)]
    from kervan.messaging.actions import message_delivery_update

    for report in reports:
        if report.outcome == "delivered":
            message_delivery_update(channel=CHANNEL, provider_id=report.jobid, delivered=True)
        elif report.outcome == "failed":
            message_delivery_update(
                channel=CHANNEL,
                provider_id=report.jobid,
                delivered=False,
                error=report.error,
                permanent=report.bad_number,
            )
    return JsonResponse({"ok": True})


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1, keyed with the auth token, of the full URL followed by every
    POST parameter's name and value, sorted by name (a name given several times: each distinct value once, sorted,
    as Twilio's own validators do)."""
    data = url + "".join(name + value for name, value in sorted(set(params)))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _refuse_unsigned(request: HttpRequest) -> HttpResponse | None:
    conf = _sms_settings()
    token = str(conf.get("auth_token") or "") if conf.get("provider") == "twilio" else ""
    if not token:
        return _error(_("Twilio webhooks are not configured."), "webhook_not_configured", 403)
    given = request.headers.get("X-Twilio-Signature", "")
    params = [(name, value) for name in request.POST for value in request.POST.getlist(name)]
    urls = _url_variants(request.build_absolute_uri())
    # The very URLs Twilio was given (settings status_callback, inbound_url): right even when a proxy changes how
    # this request looks to Django (https ended at the proxy, another host name).
    urls += [str(conf[name]) for name in ("status_callback", "inbound_url") if conf.get(name)]
    for url in urls:
        if given and hmac.compare_digest(twilio_signature(token, url, params).encode(), given.encode()):
            return None
    return _error(_("The request's Twilio signature is wrong."), "invalid_signature", 403)


def _url_variants(url: str) -> list[str]:
    """The URL with and without its default port: Twilio signs the URL as configured, which may name the port
    (https://shop.example:443/…) while the request does not, or the other way round."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        other = host if parts.port == default else None
    else:
        other = f"{host}:{default}" if default else None
    variants = [url]
    if other is not None:
        variants.append(urlunsplit((parts.scheme, other, parts.path, parts.query, parts.fragment)))
    return variants


def _sms_settings() -> dict[str, object]:
    return dict(getattr(settings, "KERVAN_SMS", None) or {})


def _error(detail: str, code: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)
