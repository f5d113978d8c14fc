"""The batch path's parts: check every item without writing, then resolve who each event belongs to.

Used by kervan.events.actions.events_ingest / events_identify, which own the transaction.
"""

import datetime as dt
import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass

import orjson
from django.db import transaction
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.emails import email_match_key, normalize_email
from kervan.core.errors import KervanError
from kervan.core.models import Source
from kervan.core.phones import normalize_phone
from kervan.customers.identity import customer_identify, identities_lookup, identities_lookup_batch, store_id_key
from kervan.customers.models import Customer, Identity
from kervan.customers.profile import clean_profile
from kervan.events import storefront as storefronts
from kervan.events.identified import visitor_identified
from kervan.events.models import CanonicalEvent
from kervan.events.store import events_attach_anonymous
from kervan.events.storefront import Storefront

FUTURE_TOLERANCE = dt.timedelta(minutes=10)
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_PROPERTIES_BYTES = 16 * 1024
# What a visitor's browser may report. Orders, emails, points and the like are facts only the server knows.
STOREFRONT_EVENTS = frozenset(
    {
        CanonicalEvent.VIEWED_PAGE,
        CanonicalEvent.VIEWED_PRODUCT,
        CanonicalEvent.ADDED_TO_CART,
        CanonicalEvent.STARTED_CHECKOUT,
        CanonicalEvent.SUBSCRIBED_BACK_IN_STOCK,
    }
)
SERVER_ONLY_EVENTS = frozenset(CanonicalEvent.values) - STOREFRONT_EVENTS
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


@dataclass(slots=True)
class Track:
    index: int
    event_id: str
    name: str
    occurred_at: dt.datetime
    properties: dict
    customer_id: int | None
    email: str
    phone: str
    user_id: str
    source_key: str
    anonymous_id: str
    resolved: int | None = None


@dataclass(slots=True)
class Identify:
    index: int
    anonymous_id: str
    email: str
    phone: str
    user_id: str
    source_key: str
    traits: dict
    storefront: Storefront | None = None  # sent by a browser through the public tracker
    verified: str = ""  # which identifier a valid signature proves: "user_id", "email" or "phone" ("" none)


class Refusal:
    """Builds the error for item `index`: "batch[3].email: …" in a batch, "email: …" for a single call."""

    def __init__(self, batched: bool):
        self.batched = batched

    def __call__(self, index: int, field: str, detail: str, code: str, status: int = 422) -> KervanError:
        where = f"batch.{index}.{field}" if self.batched else field
        label = f"batch[{index}].{field}" if self.batched else field
        return KervanError(f"{label}: {detail}", code, status=status, field=where)


# --- preparation: everything that can be checked without writing --------------------------------------------


def prepare(items, *, now, refuse, clock_skew, storefront: Storefront | None) -> tuple[list[Track], list[Identify]]:
    latest_allowed = now + FUTURE_TOLERANCE
    tracks: list[Track] = []
    identifies: list[Identify] = []
    for i, item in enumerate(items):
        if getattr(item, "type", "track") == "identify":
            identifies.append(prepare_identify(i, item, refuse, storefront=storefront))
            continue
        occurred = item.occurred_at
        if occurred.tzinfo is None or occurred.utcoffset() is None:
            raise refuse(
                i, "occurred_at", _("needs a UTC offset, e.g. 2026-05-01T14:03:00+03:00 or …Z."), "naive_datetime"
            )
        if clock_skew:
            occurred += clock_skew
        if occurred > latest_allowed:
            raise refuse(i, "occurred_at", _("is in the future."), "future_datetime")
        if occurred < EARLIEST:
            raise refuse(i, "occurred_at", _("is before 1970."), "invalid_datetime")
        if storefront is not None and item.name in SERVER_ONLY_EVENTS:
            raise refuse(
                i,
                "name",
                _("'%(name)s' can only be sent by the server, not a browser.") % {"name": item.name},
                "event_not_allowed",
                status=403,
            )
        properties = item.properties
        if properties:
            check_properties(i, properties, refuse)
        email, phone, user_id, source_key = who(i, item, refuse)
        customer_id = getattr(item, "customer_id", None)
        anonymous_id = item.anonymous_id or ""
        if not (customer_id or email or phone or user_id or anonymous_id):
            raise refuse(
                i,
                "customer_id",
                _("say who did it: customer_id, email, phone, user_id+source or anonymous_id."),
                "missing_identity",
            )
        tracks.append(
            Track(
                i,
                item.event_id,
                item.name,
                occurred,
                properties,
                customer_id,
                email,
                phone,
                user_id,
                source_key,
                anonymous_id,
            )
        )
    return tracks, identifies


def check_properties(i: int, properties: dict, refuse) -> None:
    try:
        dumped = orjson.dumps(properties)
    except TypeError as exc:  # integers beyond 64 bits, nesting deeper than 255, invalid Unicode
        raise refuse(i, "properties", _("cannot be stored as JSON (%(error)s).") % {"error": exc}, "invalid_properties")
    if len(dumped) > MAX_PROPERTIES_BYTES:
        raise refuse(
            i,
            "properties",
            _("at most %(size)s KB of JSON.") % {"size": MAX_PROPERTIES_BYTES // 1024},
            "properties_too_large",
        )
    if b"\\u0000" in dumped and _NUL_ESCAPE.search(dumped):
        raise refuse(i, "properties", _("text cannot contain NUL characters."), "invalid_properties")


def who(i: int, item, refuse, source_key: str | None = None) -> tuple[str, str, str, str]:
    """(email, phone, user_id, source key) of an item, normalised; `source_key` stands in for an item without a
    `source` field (the tracker's items: their site's source)."""
    email = phone = ""
    if getattr(item, "email", None):
        try:
            email = normalize_email(item.email)
        except KervanError as exc:
            raise refuse(i, "email", exc.detail, exc.code)
    if getattr(item, "phone", None):
        try:
            phone = normalize_phone(item.phone)
        except KervanError as exc:
            raise refuse(i, "phone", exc.detail, exc.code)
    user_id = getattr(item, "user_id", None) or ""
    source_key = (getattr(item, "source", None) if source_key is None else source_key) or ""
    if user_id and not source_key:
        raise refuse(i, "source", _("user_id needs the key of the source it belongs to."), "missing_source")
    return email, phone, user_id, source_key


def prepare_identify(i: int, item, refuse, *, storefront: Storefront | None = None) -> Identify:
    site_source = storefront.site.source if storefront is not None else None
    source_key = (site_source.key if site_source is not None else "") if storefront is not None else None
    email, phone, user_id, source_key = who(i, item, refuse, source_key)
    anonymous_id = item.anonymous_id or ""
    if not (email or phone or user_id):
        raise refuse(i, "email", _("identify needs an email, a phone or user_id+source."), "missing_identity")
    if storefront is not None and not anonymous_id:
        raise refuse(i, "anonymous_id", _("is required."), "missing_identity")
    traits = item.traits.model_dump(exclude_none=True)
    try:
        traits = clean_profile(traits)
    except KervanError as exc:
        raise refuse(i, f"traits.{exc.field or ''}".rstrip("."), exc.detail, exc.code)
    identify = Identify(i, anonymous_id, email, phone, user_id, source_key, traits, storefront=storefront)
    if storefront is not None:
        identify.verified = verified_identifier(i, item, identify, storefront, refuse)
    return identify


def verified_identifier(i: int, item, identify: Identify, storefront: Storefront, refuse) -> str:
    """Which identifier the item's signature proves ("" when it has none); a wrong signature refuses the batch.
    The signature is of the customer id when one is sent, otherwise of the email, otherwise of the phone; as the
    page sent it, or as Kervan normalises it."""
    signature = getattr(item, "signature", None) or ""
    if not signature:
        if identify.user_id:
            raise refuse(
                i,
                "user_id",
                _("a customer id sent from a browser needs its signature (see the tracker page in Kervan)."),
                "signature_required",
                status=403,
            )
        return ""
    if identify.user_id:
        kind, values = "user_id", (item.user_id, identify.user_id)
    elif identify.email:
        kind, values = "email", (item.email, identify.email)
    else:
        kind, values = "phone", (item.phone, identify.phone)
    if not storefronts.signature_matches(storefront.site.identity_secret, signature, *values):
        raise refuse(
            i,
            "signature",
            _(
                "does not match: it must be the hex HMAC-SHA256 of the %(identifier)s, keyed with the site's "
                "identity secret (see the tracker page in Kervan)."
            )
            % {"identifier": {"user_id": "user_id", "email": "email", "phone": "phone"}[kind]},
            "invalid_signature",
            status=403,
        )
    return kind


def sources_for(tracks, identifies, refuse, known: Source | None = None) -> dict[str, Source]:
    """{key: Source} for the source keys the items name; `known` (the caller's default source) needs no query."""
    first_use: dict[str, int] = {}
    for entry in (*tracks, *identifies):
        if entry.source_key:
            first_use.setdefault(entry.source_key, entry.index)
    if not first_use:
        return {}
    if known is not None and first_use.keys() == {known.key}:
        return {known.key: known}
    found = Source.objects.in_bulk(list(first_use), field_name="key")
    for key, index in first_use.items():
        if key not in found:
            raise refuse(index, "source", _("no source with key '%(key)s'.") % {"key": key}, "unknown_source")
    return found


def lookup(tracks: list[Track], sources: dict[str, Source]) -> tuple[dict[int, int | None], dict[tuple[str, str], int]]:
    """One query for the whole batch: the customer ids it names ({id: merged_into_id}, unknown ones missing) and
    who its emails, phones, visitor ids and store user ids belong to ({(kind, value): customer_id}, merged profiles
    followed; a store user id under (store_id_key(source id), id))."""
    customer_ids: set[int] = set()
    emails: set[str] = set()
    phones: set[str] = set()
    visitors: set[str] = set()
    store_ids: dict[int, set[str]] = defaultdict(set)
    for t in tracks:
        if t.customer_id is not None:
            customer_ids.add(t.customer_id)
            continue
        if t.user_id and t.source_key in sources:
            store_ids[sources[t.source_key].pk].add(t.user_id)
        if t.email:
            emails.add(t.email)
        if t.phone:
            phones.add(t.phone)
        if t.anonymous_id:
            visitors.add(t.anonymous_id)
    return identities_lookup_batch(
        customer_ids=customer_ids,
        values_by_kind={Identity.Kind.EMAIL: emails, Identity.Kind.PHONE: phones, Identity.Kind.ANONYMOUS: visitors},
        store_ids=store_ids,
    )


def customers_for(tracks, merged_into: dict[int, int | None], refuse) -> dict[int, int]:
    """{customer_id: the id to store} for the ids named in the batch, following merges to the surviving profile.
    `merged_into` is lookup()'s {id: merged_into_id}; an id missing from it refuses the batch."""
    for t in tracks:
        if t.customer_id is not None and t.customer_id not in merged_into:
            raise refuse(
                t.index,
                "customer_id",
                _("no customer with id %(customer_id)s.") % {"customer_id": t.customer_id},
                "unknown_customer",
            )
    resolved = {}
    for pk, target in merged_into.items():
        survivor = pk
        for _hop in range(10):  # a merged profile's survivor may itself have been merged later
            if target is None:
                break
            survivor = target
            target = Customer.objects.filter(pk=survivor).values_list("merged_into_id", flat=True).first()
        resolved[pk] = survivor
    return resolved


# --- writing ----------------------------------------------------------------------------------------------


def run_identify(actor: Actor, identify: Identify, sources: dict[str, Source]) -> tuple[Customer | None, bool]:
    """Apply one identify item. From the API (a key the shop's server holds) it is believed; from the tracker the
    rules of run_storefront_identify apply. Returns (the visitor's customer or None, created)."""
    if identify.storefront is not None:
        return run_storefront_identify(actor, identify, sources)
    return identify_visitor(
        actor=actor,
        anonymous_id=identify.anonymous_id,
        email=identify.email,
        phone=identify.phone,
        source=sources.get(identify.source_key) if identify.source_key else None,
        source_customer_id=identify.user_id,
        traits=identify.traits,
    )


class _NotNew(Exception):
    """An unsigned identify's new profile turned out to exist already (another request made it first)."""


def run_storefront_identify(
    actor: Actor, identify: Identify, sources: dict[str, Source]
) -> tuple[Customer | None, bool]:
    """An identify from a browser (kervan.events.storefront explains the rules).

    Signed: the proven identifier's holder, else the visitor's own profile, else a new profile, gets the visitor;
    the other identifiers sent join it only when nobody holds them, and the visitor id only when it is free or
    already theirs. Unsigned: a visitor with a profile stays with it and nothing is written; a visitor without one
    gets a new profile made of the identifiers nobody holds (none free: nothing happens). Who holds what is read
    first; the writes go through customer_identify with only the identifiers allowed, so its strongest-first
    resolution cannot land on anyone else."""
    storefront = identify.storefront
    assert storefront is not None
    source = sources.get(identify.source_key) if identify.source_key else None
    visitor = identify.anonymous_id
    holders = _holders(identify, source)
    mine = holders["anonymous_id"]
    if identify.verified:
        target = holders[identify.verified] or mine
        allowed = {
            field: value
            for field, value in (("email", identify.email), ("phone", identify.phone), ("user_id", identify.user_id))
            if value and (field == identify.verified or holders[field] is None or holders[field] == target)
        }
        if target is None:
            storefronts.claim_new_profile(storefront, visitor)
        return identify_visitor(
            actor=actor,
            anonymous_id=visitor if mine in (None, target) else "",
            email=allowed.get("email", ""),
            phone=allowed.get("phone", ""),
            source=source if "user_id" in allowed else None,
            source_customer_id=allowed.get("user_id", ""),
            traits=identify.traits,
        )
    if mine is not None:
        return None, False  # identifiers the visitor's profile holds name it again; others are not proven
    free_email = identify.email if holders["email"] is None else ""
    free_phone = identify.phone if holders["phone"] is None else ""
    if not (free_email or free_phone):
        return None, False
    storefronts.claim_new_profile(storefront, visitor)
    try:
        with transaction.atomic():
            customer, created = identify_visitor(
                actor=actor, anonymous_id=visitor, email=free_email, phone=free_phone, traits=identify.traits
            )
            if not created:
                raise _NotNew
    except _NotNew:
        return None, False
    return customer, created


def _holders(identify: Identify, source: Source | None) -> dict[str, int | None]:
    """{field: the customer holding that identifier now (merged profiles followed), or None} for the identify's
    email, phone, user_id and anonymous_id."""
    holders: dict[str, int | None] = {"email": None, "phone": None, "user_id": None, "anonymous_id": None}
    for field, kind, value, src in (
        ("email", Identity.Kind.EMAIL, identify.email, None),
        ("phone", Identity.Kind.PHONE, identify.phone, None),
        ("user_id", Identity.Kind.SOURCE_ID, identify.user_id, source),
        ("anonymous_id", Identity.Kind.ANONYMOUS, identify.anonymous_id, None),
    ):
        if value and (kind != Identity.Kind.SOURCE_ID or src is not None):
            holders[field] = identities_lookup(kind, [value], src).get(value)
    return holders


def identify_visitor(*, actor: Actor, anonymous_id: str, **identifiers) -> tuple[Customer, bool]:
    """customer_identify, then the visitor's earlier anonymous events join the profile found or created, and so
    does what other apps keep by visitor id (kervan.events.identified)."""
    with transaction.atomic():
        customer, created = customer_identify(actor=actor, anonymous_id=anonymous_id, **identifiers)
        anonymous_id = (anonymous_id or "").strip()[:100]
        if anonymous_id:
            events_attach_anonymous(anonymous_id=anonymous_id, customer_id=customer.pk)
            visitor_identified(anonymous_id=anonymous_id, customer_id=customer.pk)
    return customer, created


def resolve_known(tracks: list[Track], sources: dict[str, Source], found: dict[tuple[str, str], int]) -> bool:
    """Set `resolved` on each track not resolved by its customer_id from the identities already stored: store user
    id, then email, then phone (`found` is lookup()'s identities). Reads only. Returns whether a track names a
    person by an email, phone or store user id Kervan does not know yet (resolve_new creates their profile)."""
    for t in tracks:
        if t.resolved is None and t.user_id and t.source_key in sources:
            t.resolved = found.get((store_id_key(sources[t.source_key].pk), t.user_id))
    unknown = False
    for t in tracks:
        if t.resolved is None and (t.email or t.phone or t.user_id):
            t.resolved = found.get((Identity.Kind.EMAIL, t.email)) or found.get((Identity.Kind.PHONE, t.phone))
            unknown = unknown or t.resolved is None
    return unknown


def resolve_new(actor: Actor, tracks: list[Track], sources: dict[str, Source], found: dict[tuple[str, str], int]):
    """After resolve_known: unknown strong identifiers create or extend a profile through customer_identify (the
    only writes); then the anonymous visitor ids."""
    known: dict[tuple, int] = {}
    for t in tracks:
        if t.resolved is not None or not (t.email or t.phone or t.user_id):
            continue
        email_key = email_match_key(t.email) if t.email else ""  # two forms of one mailbox are one person
        keys = [k for k in (("e", email_key), ("p", t.phone), ("u", t.source_key, t.user_id)) if k[-1]]
        t.resolved = next((known[k] for k in keys if k in known), None)
        if t.resolved is None:
            customer, _ = identify_visitor(
                actor=actor,
                email=t.email,
                phone=t.phone,
                anonymous_id=t.anonymous_id,
                source=sources.get(t.source_key) if t.source_key else None,
                source_customer_id=t.user_id,
            )
            t.resolved = customer.pk
        for k in keys:
            known.setdefault(k, t.resolved)
        if t.anonymous_id:
            known.setdefault(("a", t.anonymous_id), t.resolved)
    for t in tracks:  # visitor ids last, including those the profiles created above have just claimed
        if t.resolved is None and t.anonymous_id:
            # An id already owned before this batch stays with its owner (identify never steals one).
            t.resolved = found.get((Identity.Kind.ANONYMOUS, t.anonymous_id)) or known.get(("a", t.anonymous_id))


def dedupe_key(namespace: str, event_id: str) -> str:
    key = f"{namespace}:{event_id}"
    if len(key) <= 100:
        return key
    return f"{namespace}:#{hashlib.sha256(event_id.encode()).hexdigest()[:32]}"
