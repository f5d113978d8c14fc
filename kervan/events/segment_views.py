"""The Segment tracking API at /v1/… (track, identify, page, screen, group, alias, batch, import, and analytics-next's
short paths /v1/t, /v1/i …), and /v1/projects/<key>/settings that analytics-next loads its settings from.

Plain Django views, not the ninja API: the libraries expect Segment's exact answers — 200 {"success": true}; 400
{"detail", "code"} for input they must not send again; 401 for a wrong write key; 429 and 5xx (with Retry-After)
for what they should retry. A write key is either an API key with events:write (the shop's server: believed like
the native API) or a TrackerSite's publishable key (a browser: the tracker's rules, CORS for the site's origins and
its limits). In a batch a bad message is reported in "rejected" and skipped, the others are stored, each once
however often the batch is retried (its messageId).
"""

import base64
import binascii
import re
import time
import zlib
from dataclasses import dataclass

import orjson
from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from kervan.accounts import throttle
from kervan.accounts.actors import Actor
from kervan.accounts.api_auth import check_rate_limit, client_ip
from kervan.accounts.models import ApiKey
from kervan.core import clock
from kervan.core.errors import (
    DATABASE_RETRY_AFTER_SECONDS,
    DATABASE_UNAVAILABLE_DETAIL,
    DATABASE_UNAVAILABLE_ERRORS,
    Conflict,
    KervanError,
)
from kervan.core.models import Source
from kervan.core.web import allow_origin, json_error, read_body
from kervan.events import actions, segment, selectors
from kervan.events import storefront as storefronts
from kervan.events.models import TrackerSite
from kervan.events.storefront import Storefront

RECENT_COUNT = 20
RECENT_SECONDS = 7 * 86_400
RECENT_SLOTS = 64  # tenths of a second: a request writes its slot, the page reads them all
SOURCE_MEMO_SECONDS = 60
_ITEM_FIELD = re.compile(r"^batch\.(\d+)(?:\.|$)")


@dataclass
class Caller:
    """Who a write key belongs to: the actor, the storefront when it is a browser's key, the source whose customer
    ids `userId` holds, and where its last messages are kept for the settings page."""

    actor: Actor
    source: Source
    storefront: Storefront | None
    recent_key: str


def recent_key_for(kind: str, pk: int) -> str:
    return f"segment:recent:{kind}:{pk}"


_source_memo: dict[str, tuple[float, Source]] = {}


def segment_source(site: TrackerSite | None = None) -> Source:
    """The source whose customer ids Segment's `userId` holds: the storefront's (the browser and the shop's server
    name a customer by the same id), created like tracker_site_default's when there is no site yet. Remembered by
    the process for a minute: looking it up cost every server batch two queries (or a cache round trip)."""
    if site is not None and site.source is not None:
        return site.source
    remembered = _source_memo.get("source")
    if remembered is not None and remembered[0] > time.monotonic():
        return remembered[1]
    site = TrackerSite.objects.filter(is_active=True, source__isnull=False).select_related("source").first()
    if site is not None and site.source is not None:
        source = site.source
    else:
        source, _created = Source.objects.get_or_create(
            key="website", defaults={"name": "Website", "kind": Source.Kind.TRACKER}
        )
    _source_memo["source"] = (time.monotonic() + SOURCE_MEMO_SECONDS, source)
    return source


def forget_source() -> None:
    """Tests: a new database has new sources."""
    _source_memo.clear()


# --- reading the request ------------------------------------------------------------------------------------


def _read_body(request, limit: int) -> bytes:
    """The body (gunzipped when Content-Encoding says gzip), refused past `limit` bytes either way."""
    too_large = KervanError(
        _("The request is larger than %(size)s KB; send fewer messages at a time.") % {"size": limit // 1024},
        "request_too_large",
    )
    body = read_body(request, limit, too_large)
    if request.headers.get("Content-Encoding", "").strip().lower() == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error:
            raise KervanError(_("The body is not valid gzip."), "malformed_request")
        if len(body) > limit or inflater.unconsumed_tail:
            raise too_large
    return body


def _parse(body: bytes) -> dict:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise KervanError(_("The body is not valid JSON."), "malformed_request")
    if not isinstance(data, dict):
        raise KervanError(_("The body must be a JSON object."), "malformed_request")
    return data


def _write_key(request, data: dict) -> str:
    """The key as the libraries send it: HTTP Basic user (empty password), else `writeKey` in the body."""
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        user = decoded.partition(":")[0]
        if user:
            return user
    key = data.get("writeKey")
    return key.strip() if isinstance(key, str) else ""


def _caller(request, key: str, origin: str | None) -> Caller:
    invalid = KervanError(_("Unknown or revoked write key."), "invalid_write_key", status=401)
    if not key or len(key) > 200:
        raise invalid
    address = client_ip(request)
    if key.startswith("kv_"):
        prefix = key.split("_")[1] if key.count("_") >= 2 else ""
        api_key = ApiKey.cached.get(
            prefix, "key", lambda: ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
        )
        if api_key is None or api_key.key_hash != ApiKey.hash_secret(key):
            raise invalid
        check_rate_limit(api_key.pk)
        api_key.touch()
        actor = Actor.for_api_key(api_key, address)
        actor.require("events", "write")
        return Caller(actor, segment_source(), None, recent_key_for("key", api_key.pk))
    site = selectors.tracker_site_for_key(key)
    if site is None:
        raise invalid
    if origin is not None and not _origin_allowed(request, origin, site.allowed_origins):
        raise KervanError(
            _("%(origin)s may not send events with this write key.") % {"origin": origin},
            "origin_not_allowed",
            status=403,
        )
    throttle.check(
        f"tracker:requests:{throttle.hashed(address)}",
        throttle.Limit(settings.KERVAN_TRACKER_RATE_LIMIT, 60),
        detail=_("Too many requests from this address; send them again later."),
        code="rate_limited",
    )
    actor = Actor(scopes={"events": "write"}, ip_address=address)
    return Caller(actor, segment_source(site), Storefront(site=site, address=address), recent_key_for("site", site.pk))


def _origin_allowed(request, origin: str, allowed) -> bool:
    return origin == f"{request.scheme}://{request.get_host()}" or origin in allowed


# --- the endpoints ------------------------------------------------------------------------------------------


def _endpoint(kind: str | None):
    @csrf_exempt
    def view(request):
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS":
            return preflight(request, origin)
        if request.method != "POST":
            return allow_origin(json_error(405, _("Use POST."), "method_not_allowed"), origin)
        try:
            response = _receive(request, kind, origin)
        except KervanError as exc:
            status = 503 if isinstance(exc, Conflict) else exc.status
            response = _error(status, exc.detail, exc.code, field=exc.field)
            retry_after = getattr(exc, "retry_after", None) or (DATABASE_RETRY_AFTER_SECONDS if status == 503 else 0)
            if retry_after:
                response["Retry-After"] = str(retry_after)
        except DATABASE_UNAVAILABLE_ERRORS:
            response = _error(503, str(DATABASE_UNAVAILABLE_DETAIL), "database_unavailable")
            response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return allow_origin(response, origin)

    view.__name__ = f"segment_{kind or 'batch'}"
    return view


def _error(status: int, detail: str, code: str, *, field: str | None = None, **extra) -> JsonResponse:
    """Kervan's error shape, plus "message": analytics-python reads the detail from it (and fails without it)."""
    body = {"detail": detail, "code": code, "message": detail, **extra}
    if field:
        body["field"] = field
    return JsonResponse(body, status=status)


def _receive(request, kind: str | None, origin: str | None) -> JsonResponse:
    limit = segment.MAX_MESSAGE_BYTES if kind else segment.MAX_BATCH_BYTES
    data = _parse(_read_body(request, limit))
    caller = _caller(request, _write_key(request, data), origin)
    received_at = clock.now()
    if kind is None:
        messages = data.get("batch")
        if not isinstance(messages, list) or not messages:
            raise KervanError(_("batch: must be a non-empty list of messages."), "malformed_request", field="batch")
        if len(messages) > settings.KERVAN_EVENT_BATCH_MAX:
            raise KervanError(
                _("A batch holds at most %(limit)s messages; this one has %(count)s. Split it.")
                % {"limit": settings.KERVAN_EVENT_BATCH_MAX, "count": len(messages)},
                "batch_too_large",
            )
        batch_context = data.get("context") if isinstance(data.get("context"), dict) else None
        sent_at = segment.parse_time(data.get("sentAt"), "sentAt") if isinstance(data.get("sentAt"), str) else None
    else:
        messages, batch_context, sent_at = [data], None, None
    browser = caller.storefront is not None
    ip = caller.actor.ip_address if browser else None
    pending: list[tuple[int, object]] = []  # (message index, item)
    rejected: list[dict] = []
    summaries: list[dict] = []
    for index, message in enumerate(messages):
        try:
            if kind is None and len(orjson.dumps(message)) > segment.MAX_MESSAGE_BYTES:
                raise segment.MessageRefused(
                    _("A message is at most %(size)s KB.") % {"size": segment.MAX_MESSAGE_BYTES // 1024},
                    "message_too_large",
                )
            mapped = segment.message_items(
                message,
                kind=kind,
                received_at=received_at,
                sent_at=sent_at,
                source_key=caller.source.key,
                browser=browser,
                ip=ip,
                batch_context=batch_context,
            )
        except KervanError as exc:
            rejected.append(_rejection(index, message, exc))
            continue
        summaries.append((index, mapped.summary))
        pending.extend((index, item) for item in mapped.items)
    if caller.storefront is not None and pending:
        storefronts.check_request(caller.storefront, [item.anonymous_id or "" for _i, item in pending])
    stored_indexes = _ingest(caller, pending, rejected)
    _remember(caller, summaries, rejected, stored_indexes, received_at)
    if kind is not None and rejected:
        first = rejected[0]
        return _error(first["status"], first["detail"], first["code"])
    if kind is None and len(rejected) == len(messages):  # nothing to store: the client must not send it again
        first = rejected[0]
        return _error(400, first["detail"], first["code"], rejected=rejected)
    body: dict = {"success": True}
    if rejected:
        body["rejected"] = rejected
    return JsonResponse(body)


def _rejection(index: int, message, exc: KervanError) -> dict:
    message_id = message.get("messageId") if isinstance(message, dict) else None
    status = exc.status if 400 <= exc.status < 500 and exc.status != 429 else 400
    return {
        "index": index,
        "messageId": message_id if isinstance(message_id, str) else None,
        "detail": exc.detail,
        "code": exc.code,
        "status": status,
    }


def _ingest(caller: Caller, pending: list[tuple[int, object]], rejected: list[dict]) -> set[int]:
    """Store the items through events_ingest. It refuses a batch whole for one bad item and names it
    ("batch.3.…"): that message is reported and the rest sent again, so a bad message costs nothing to the others.
    Returns the indexes of the messages stored."""
    while pending:
        try:
            actions.events_ingest(
                actor=caller.actor,
                items=[item for _index, item in pending],
                default_source=caller.source,
                storefront=caller.storefront,
            )
        except KervanError as exc:
            match = _ITEM_FIELD.match(exc.field or "")
            if match is None or int(match.group(1)) >= len(pending):
                raise
            position = int(match.group(1))
            index, item = pending.pop(position)
            exc.detail = exc.detail.split(": ", 1)[-1] if exc.detail.startswith("batch[") else exc.detail
            rejected.append(
                {
                    "index": index,
                    "messageId": getattr(item, "event_id", None),
                    "detail": exc.detail,
                    "code": exc.code,
                    "status": exc.status if 400 <= exc.status < 500 else 400,
                }
            )
            continue
        return {index for index, _item in pending}
    return set()


def _remember(caller: Caller, summaries, rejected, stored_indexes, received_at) -> None:
    """Keep the key's last messages (stored or refused) in the shared cache for the settings page: one write per
    request, to the slot of its tenth of a second (no read-modify-write of one list on every batch). Two requests
    in the same tenth may overwrite each other's entries; the page shows the newest of what is kept."""
    at = received_at.isoformat()
    refused = {r["index"]: r for r in rejected}
    entries = []
    for index, summary in summaries:
        if index in refused:
            continue
        status = "stored" if index in stored_indexes else "nothing to store"
        entries.append((index, {**summary, "received_at": at, "status": status}))
    for index, r in refused.items():
        entry = {"message_id": r["messageId"] or "", "detail": r["detail"], "code": r["code"]}
        entries.append((index, {**entry, "received_at": at, "status": "rejected"}))
    if not entries:
        return
    entries.sort(key=lambda entry: entry[0], reverse=True)
    slot = int(time.time() * 10) % RECENT_SLOTS
    cache.set(f"{caller.recent_key}:{slot}", [e for _i, e in entries[:RECENT_COUNT]], RECENT_SECONDS)


def recent_messages(recent_key: str) -> list[dict]:
    """The newest RECENT_COUNT messages kept for a key, newest first."""
    kept = cache.get_many([f"{recent_key}:{slot}" for slot in range(RECENT_SLOTS)])
    entries = [entry for slot_entries in kept.values() for entry in slot_entries]
    entries.sort(key=lambda entry: entry["received_at"], reverse=True)  # stable: a request's own order stays
    return entries[:RECENT_COUNT]


def preflight(request, origin):
    """CORS preflight from a storefront page: analytics.js sends the write key in an Authorization header."""
    if origin is None:
        return HttpResponse(status=204)
    own = origin == f"{request.scheme}://{request.get_host()}"
    allowed = own or any(origin in s.allowed_origins for s in selectors.tracker_sites().filter(is_active=True))
    if not allowed:
        return json_error(
            403,
            _("%(origin)s is not an allowed origin for any tracker site.") % {"origin": origin},
            "origin_not_allowed",
        )
    response = HttpResponse(status=204)
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type, Content-Encoding, Authorization, X-Retry-Count"
    response["Access-Control-Max-Age"] = "86400"
    return allow_origin(response, origin)


track = _endpoint("track")
identify = _endpoint("identify")
page = _endpoint("page")
screen = _endpoint("screen")
group = _endpoint("group")
alias = _endpoint("alias")
batch = _endpoint(None)


@require_GET
def project_settings(request, write_key: str):
    """What analytics-next loads before anything else (normally from cdn.segment.com): the "Segment.io"
    integration pointed at this Kervan. Only for a publishable key; public like the key itself."""
    site = selectors.tracker_site_for_key(write_key)
    if site is None:
        response = json_error(404, _("Unknown or disabled write key."), "invalid_write_key")
    else:
        response = JsonResponse(
            {
                "integrations": {
                    "Segment.io": {
                        "apiKey": site.public_key,
                        "apiHost": f"{request.get_host()}/v1",
                        "protocol": request.scheme,
                        "unbundledIntegrations": [],
                        "addBundledMetadata": False,
                    }
                },
                "plan": {},
                "edgeFunction": {},
                "analyticsNextEnabled": True,
                "middlewareSettings": {},
                "enabledMiddleware": {},
                "metrics": {"sampleRate": 0},
                "legacyVideoPluginsEnabled": False,
                "remotePlugins": [],
            }
        )
        response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response
