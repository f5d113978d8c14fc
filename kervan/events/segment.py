"""The Segment spec (the tracking API of analytics.js, analytics-node, analytics-python, RudderStack …) read into
Kervan's ingestion items, so a shop's existing tracking code sends to Kervan by changing only its host and key.

One Segment message becomes at most one track item and at most one identify item for
kervan.events.actions.events_ingest, which then applies the same identity resolution, idempotency and storefront
rules as the native API and the tracker:

- `messageId` is the event id (the idempotency key); a message without one gets the hash of its content, so a
  retried delivery is still stored once.
- `userId` is the shop's customer id: an identity of the Segment source (see `segment_source`). `anonymousId` is
  the visitor id. `traits` and `context.traits` go through the profile rules (email, phone, names, birthday,
  gender, city, two-letter country); an invalid email or phone is left out rather than losing the message.
- `event` names of Segment's e-commerce spec become Kervan's canonical names (EVENT_NAMES); other names are kept.
  `page` is "Viewed Page", `screen` "Viewed Screen", `group` "Joined Group"; `alias` (previousId → userId) and
  `identify` join the visitor to the customer.
- The time is the client's `timestamp` corrected for its clock skew as the spec says: timestamp + (receivedAt −
  sentAt). `context` (page, campaign as UTM, user agent, ip, locale, time zone) is kept in the event's
  properties under "context".

From a browser (a TrackerSite's publishable key) a visitor may only speak for itself: tracks carry the visitor id
only; an identify or alias names a customer id only with its signature (`context.kervan.signature`, the tracker's
rule, kervan.events.storefront); and e-commerce names that only the shop's server may assert ("Order Completed" →
"Placed Order") keep their Segment name instead of becoming the canonical fact.
"""

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import ClassVar

import orjson
import pydantic
from django.utils.translation import gettext as _

from kervan.core.emails import normalize_email
from kervan.core.errors import KervanError
from kervan.core.phones import normalize_phone
from kervan.events.ingest import SERVER_ONLY_EVENTS
from kervan.events.models import CanonicalEvent
from kervan.events.schemas import Traits

MAX_MESSAGE_BYTES = 32 * 1024  # the libraries' own limits (analytics-node, analytics-python, analytics.js)
MAX_BATCH_BYTES = 500 * 1024
MESSAGE_TYPES = ("track", "identify", "page", "screen", "group", "alias")
# analytics-next posts single calls to /v1/<first letter of the type>.
SHORT_TYPES = {"t": "track", "i": "identify", "p": "page", "s": "screen", "g": "group", "a": "alias"}

# Segment's e-commerce spec (and its review event) → Kervan's canonical names. Other names are stored as sent:
# Products Searched, Product List Viewed, Product Clicked, Cart Viewed, Product Removed, Order Updated, Coupon Applied …
EVENT_NAMES = {
    "Product Viewed": CanonicalEvent.VIEWED_PRODUCT,
    "Product Added": CanonicalEvent.ADDED_TO_CART,
    "Checkout Started": CanonicalEvent.STARTED_CHECKOUT,
    "Order Completed": CanonicalEvent.PLACED_ORDER,
    "Order Refunded": CanonicalEvent.REFUNDED_ORDER,
    "Order Cancelled": CanonicalEvent.CANCELLED_ORDER,
    "Product Reviewed": CanonicalEvent.SUBMITTED_REVIEW,
}
PAGE_EVENT = CanonicalEvent.VIEWED_PAGE.value
SCREEN_EVENT = "Viewed Screen"
GROUP_EVENT = "Joined Group"
_CAMPAIGN_UTM = {
    "source": "utm_source",
    "medium": "utm_medium",
    "name": "utm_campaign",
    "term": "utm_term",
    "content": "utm_content",
}


class MessageRefused(KervanError):
    """One message Kervan will not store (non-retryable): the rest of its batch is stored."""

    status = 400


@dataclass(slots=True)
class TrackMessage:
    """A track item for events_ingest (shaped like schemas.TrackItem)."""

    type: ClassVar[str] = "track"
    event_id: str
    name: str
    occurred_at: dt.datetime
    properties: dict
    anonymous_id: str | None
    user_id: str | None
    source: str | None
    email: str | None = None
    phone: str | None = None
    customer_id: None = None


@dataclass(slots=True)
class IdentifyMessage:
    """An identify item for events_ingest (shaped like schemas.IdentifyItem / CollectIdentify)."""

    type: ClassVar[str] = "identify"
    anonymous_id: str | None
    user_id: str | None
    source: str | None
    email: str | None = None
    phone: str | None = None
    traits: Traits = field(default_factory=Traits)
    signature: str | None = None


@dataclass(slots=True)
class Mapped:
    """What one message became: its items for events_ingest (none for an identify that names nobody), and the
    summary shown on the settings page's "last events received"."""

    items: list
    summary: dict


def parse_time(value, label: str) -> dt.datetime | None:
    """An ISO 8601 time as the libraries send it; without an offset it is UTC (as Segment reads it)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MessageRefused(_("%(field)s: must be an ISO 8601 string.") % {"field": label}, "invalid_timestamp")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise MessageRefused(_("%(field)s: is not an ISO 8601 time.") % {"field": label}, "invalid_timestamp")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def occurred_at(message: dict, *, received_at: dt.datetime, sent_at: dt.datetime | None) -> dt.datetime:
    """timestamp + (receivedAt − sentAt): the client's clock error taken out. No timestamp: when it was received."""
    timestamp = parse_time(message.get("timestamp") or message.get("originalTimestamp"), "timestamp")
    if timestamp is None:
        return received_at
    sent = parse_time(message.get("sentAt"), "sentAt") or sent_at
    return timestamp + (received_at - sent) if sent is not None else timestamp


def _id(value, label: str, max_length: int) -> str:
    if value is None or value == "":
        return ""
    if type(value) is str and len(value) <= max_length and "\x00" not in value:
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MessageRefused(_("%(field)s: must be a string.") % {"field": label}, "invalid_id")
    text = str(value).strip()
    if len(text) > max_length or "\x00" in text:
        raise MessageRefused(
            _("%(field)s: at most %(count)s characters, without NUL.") % {"field": label, "count": max_length},
            "invalid_id",
        )
    return text


def _object(message: dict, key: str) -> dict:
    value = message.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MessageRefused(_("%(field)s: must be a JSON object.") % {"field": key}, "invalid_message")
    return value


def message_id(message: dict) -> str:
    given = message.get("messageId")
    if given is not None and given != "":
        return _id(given, "messageId", 100)
    # No id: the content's hash, so the same message delivered twice is still one event.
    return "sha256:" + hashlib.sha256(orjson.dumps(message, option=orjson.OPT_SORT_KEYS)).hexdigest()[:40]


def _clean_email(value) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return normalize_email(value)
    except KervanError:
        return None


def _clean_phone(value) -> str | None:
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        return None
    try:
        return normalize_phone(str(value))
    except KervanError:
        return None


def profile_traits(traits: dict) -> Traits:
    """Segment's reserved traits that Kervan's profile keeps, each kept only when valid (a bad birthday must not
    cost the customer's identify)."""
    address = traits.get("address") if isinstance(traits.get("address"), dict) else {}
    first = traits.get("firstName") or traits.get("first_name")
    last = traits.get("lastName") or traits.get("last_name")
    name = traits.get("name")
    if isinstance(name, str) and name.strip() and not (first or last):
        first, _sep, last = name.strip().partition(" ")
    birthday = traits.get("birthday")
    values = {
        "first_name": first,
        "last_name": last,
        "birth_date": birthday[:10] if isinstance(birthday, str) else None,
        "gender": traits.get("gender"),
        "city": address.get("city") or traits.get("city"),
        "country": address.get("country") or traits.get("country"),
    }
    kept = {}
    for key, value in values.items():
        if value in (None, ""):
            continue
        try:
            Traits.model_validate({key: value})
        except pydantic.ValidationError:
            continue
        kept[key] = value
    return Traits.model_validate(kept)


def kept_context(context: dict, *, ip: str | None) -> dict:
    """The parts of `context` an event keeps: page, campaign (as utm_*), user agent, ip, locale, time zone. (Not the
    library's name and version: they are on every message, and the settings page's last messages show them.)"""
    if not context:
        return {"ip": ip} if ip else {}
    kept: dict = {}
    for key, name in (("page", "page"), ("userAgent", "user_agent"), ("locale", "locale"), ("timezone", "time_zone")):
        if context.get(key) not in (None, "", {}):
            kept[name] = context[key]
    campaign = context.get("campaign")
    if isinstance(campaign, dict):
        utm = {_CAMPAIGN_UTM[k]: v for k, v in campaign.items() if k in _CAMPAIGN_UTM and v not in (None, "")}
        if utm:
            kept["utm"] = utm
    address = context.get("ip") or ip
    if address:
        kept["ip"] = address
    return kept


def event_name(message: dict, kind: str, *, browser: bool) -> str:
    if kind == "page":
        return PAGE_EVENT
    if kind == "screen":
        return SCREEN_EVENT
    if kind == "group":
        return GROUP_EVENT
    name = message.get("event")
    if not isinstance(name, str) or not name.strip():
        raise MessageRefused(_("event: a track call needs the event's name."), "missing_event")
    name = name.strip()
    if len(name) > 100 or "\x00" in name:
        raise MessageRefused(_("event: at most 100 characters, without NUL."), "invalid_event")
    canonical = EVENT_NAMES.get(name)
    if canonical is None or (browser and canonical in SERVER_ONLY_EVENTS):
        return name  # a browser may not assert an order or a review; its event is kept under Segment's name
    return canonical.value


def message_items(
    message,
    *,
    kind: str | None,
    received_at: dt.datetime,
    sent_at: dt.datetime | None,
    source_key: str,
    browser: bool,
    ip: str | None,
    batch_context: dict | None = None,
) -> Mapped:
    """One Segment message as events_ingest items. `kind` is the endpoint's type (None for a batch, whose messages
    say theirs). Raises MessageRefused for a message that cannot be stored."""
    if not isinstance(message, dict):
        raise MessageRefused(_("A message must be a JSON object."), "invalid_message")
    kind = message.get("type") if kind is None or message.get("type") in MESSAGE_TYPES else kind
    if kind not in MESSAGE_TYPES:
        raise MessageRefused(_("type: must be one of %(types)s.") % {"types": ", ".join(MESSAGE_TYPES)}, "unknown_type")
    event_id = message_id(message)
    user_id = _id(message.get("userId"), "userId", 254)
    anonymous_id = _id(message.get("anonymousId"), "anonymousId", 100)
    context = _object(message, "context")
    if batch_context:
        context = {**batch_context, **context}
    library = context.get("library")
    summary = {"type": kind, "message_id": event_id, "user_id": user_id, "anonymous_id": anonymous_id}
    if isinstance(library, dict):
        summary["library"] = f"{library.get('name', '')} {library.get('version', '')}".strip()
    # The person's traits: an identify's own and its context's; for other calls the context's only (a group's
    # `traits` describe the group).
    traits = _object(context, "traits")
    signature = None
    if kind in ("identify", "alias"):
        if kind == "identify":
            traits = {**traits, **_object(message, "traits")}
        kervan_options = context.get("kervan")
        if isinstance(kervan_options, dict) and isinstance(kervan_options.get("signature"), str):
            signature = kervan_options["signature"]

    if kind == "alias":
        previous_id = _id(message.get("previousId"), "previousId", 100)
        if not (previous_id and user_id):
            raise MessageRefused(_("alias needs previousId and userId."), "missing_identity")
        summary["anonymous_id"] = previous_id
        if browser and not signature:
            return Mapped([], summary)  # an unsigned browser cannot join a visitor to a customer id
        identify = IdentifyMessage(anonymous_id=previous_id, user_id=user_id, source=source_key, signature=signature)
        return Mapped([identify], summary)

    if not (user_id or anonymous_id):
        raise MessageRefused(_("A message needs a userId or an anonymousId."), "missing_identity")
    if browser and not anonymous_id:
        raise MessageRefused(_("anonymousId: is required from a browser."), "missing_identity")
    email = _clean_email(traits.get("email")) if traits else None
    phone = _clean_phone(traits.get("phone")) if traits else None

    if kind == "identify":
        if browser and user_id and not signature:
            user_id = ""  # unsigned: only the free identifiers may make the visitor a new profile (storefront rule)
        if not (user_id or email or phone):
            return Mapped([], summary)  # traits for a visitor Kervan cannot name yet: nothing to keep
        identify = IdentifyMessage(
            anonymous_id=anonymous_id or None,
            user_id=user_id or None,
            source=source_key if user_id else None,
            email=email,
            phone=phone,
            traits=profile_traits(traits),
            signature=signature,
        )
        return Mapped([identify], summary)

    name = event_name(message, kind, browser=browser)
    properties = dict(_object(message, "properties"))
    if kind in ("page", "screen"):
        for key in ("name", "category"):
            if isinstance(message.get(key), str) and message[key]:
                properties[key] = message[key]
    elif kind == "group":
        group_id = _id(message.get("groupId"), "groupId", 254)
        if not group_id:
            raise MessageRefused(_("groupId: a group call needs it."), "missing_group")
        properties = {"group_id": group_id, "traits": _object(message, "traits")}
    kept = kept_context(context, ip=ip)
    if kept:
        properties["context"] = kept
    summary["event"] = name
    when = occurred_at(message, received_at=received_at, sent_at=sent_at)
    if browser:  # a visitor's browser speaks for its visitor id only (kervan.events.storefront)
        user_id, email, phone = "", None, None
    track = TrackMessage(
        event_id=event_id,
        name=name,
        occurred_at=when,
        properties=properties,
        anonymous_id=anonymous_id or None,
        user_id=user_id or None,
        source=source_key if user_id else None,
        email=email,
        phone=phone,
    )
    return Mapped([track], summary)
