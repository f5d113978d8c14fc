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
from kervan.customers.identity import customer_identify, identities_lookup, identities_lookup_batch
from kervan.customers.models import Customer, Identity
from kervan.customers.profile import clean_profile
from kervan.events.models import CanonicalEvent
from kervan.events.store import events_attach_anonymous

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
    storefront: bool = False


class Refusal:
    """Builds the error for item `index`: "batch[3].email: …" in a batch, "email: …" for a single call."""

    def __init__(self, batched: bool):
        self.batched = batched

    def __call__(self, index: int, field: str, detail: str, code: str, status: int = 422) -> KervanError:
        where = f"batch.{index}.{field}" if self.batched else field
        label = f"batch[{index}].{field}" if self.batched else field
        return KervanError(f"{label}: {detail}", code, status=status, field=where)


# --- preparation: everything that can be checked without writing --------------------------------------------


def prepare(items, *, now, refuse, clock_skew, storefront) -> tuple[list[Track], list[Identify]]:
    latest_allowed = now + FUTURE_TOLERANCE
    tracks: list[Track] = []
    identifies: list[Identify] = []
    for i, item in enumerate(items):
        if getattr(item, "type", "track") == "identify":
            identifies.append(prepare_identify(i, item, refuse, require_anonymous=storefront))
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
        if storefront and item.name in SERVER_ONLY_EVENTS:
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


def who(i: int, item, refuse) -> tuple[str, str, str, str]:
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
    source_key = getattr(item, "source", None) or ""
    if user_id and not source_key:
        raise refuse(i, "source", _("user_id needs the key of the source it belongs to."), "missing_source")
    return email, phone, user_id, source_key


def prepare_identify(i: int, item, refuse, *, require_anonymous: bool) -> Identify:
    email, phone, user_id, source_key = who(i, item, refuse)
    anonymous_id = item.anonymous_id or ""
    if not (email or phone or user_id):
        raise refuse(i, "email", _("identify needs an email, a phone or user_id+source."), "missing_identity")
    if require_anonymous and not anonymous_id:
        raise refuse(i, "anonymous_id", _("is required."), "missing_identity")
    traits = item.traits.model_dump(exclude_none=True)
    try:
        traits = clean_profile(traits)
    except KervanError as exc:
        raise refuse(i, f"traits.{exc.field or ''}".rstrip("."), exc.detail, exc.code)
    return Identify(i, anonymous_id, email, phone, user_id, source_key, traits, storefront=require_anonymous)


def sources_for(tracks, identifies, refuse) -> dict[str, Source]:
    first_use: dict[str, int] = {}
    for entry in (*tracks, *identifies):
        if entry.source_key:
            first_use.setdefault(entry.source_key, entry.index)
    if not first_use:
        return {}
    found = Source.objects.in_bulk(list(first_use), field_name="key")
    for key, index in first_use.items():
        if key not in found:
            raise refuse(index, "source", _("no source with key '%(key)s'.") % {"key": key}, "unknown_source")
    return found


def lookup(tracks: list[Track]) -> tuple[dict[int, int | None], dict[tuple[str, str], int]]:
    """One query for the whole batch: the customer ids it names ({id: merged_into_id}, unknown ones missing) and
    who its emails, phones and visitor ids belong to ({(kind, value): customer_id}, merged profiles followed)."""
    customer_ids: set[int] = set()
    emails: set[str] = set()
    phones: set[str] = set()
    visitors: set[str] = set()
    for t in tracks:
        if t.customer_id is not None:
            customer_ids.add(t.customer_id)
            continue
        if t.email:
            emails.add(t.email)
        if t.phone:
            phones.add(t.phone)
        if t.anonymous_id:
            visitors.add(t.anonymous_id)
    return identities_lookup_batch(
        customer_ids=customer_ids,
        values_by_kind={Identity.Kind.EMAIL: emails, Identity.Kind.PHONE: phones, Identity.Kind.ANONYMOUS: visitors},
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


def run_identify(actor: Actor, identify: Identify, sources: dict[str, Source]) -> tuple[Customer, bool]:
    traits = identify.traits
    if identify.storefront and traits and known(identify):
        # Anyone can type anyone's email into a shop's form: a browser may name a new profile, never rename one.
        traits = {}
    return identify_visitor(
        actor=actor,
        anonymous_id=identify.anonymous_id,
        email=identify.email,
        phone=identify.phone,
        source=sources.get(identify.source_key) if identify.source_key else None,
        source_customer_id=identify.user_id,
        traits=traits,
    )


def identify_visitor(*, actor: Actor, anonymous_id: str, **identifiers) -> tuple[Customer, bool]:
    """customer_identify, then the visitor's earlier anonymous events join the profile found or created."""
    with transaction.atomic():
        customer, created = customer_identify(actor=actor, anonymous_id=anonymous_id, **identifiers)
        anonymous_id = (anonymous_id or "").strip()[:100]
        if anonymous_id:
            events_attach_anonymous(anonymous_id=anonymous_id, customer_id=customer.pk)
    return customer, created


def known(identify: Identify) -> bool:
    return bool(
        (identify.email and identities_lookup(Identity.Kind.EMAIL, [identify.email]))
        or (identify.phone and identities_lookup(Identity.Kind.PHONE, [identify.phone]))
    )


def resolve_known(tracks: list[Track], sources: dict[str, Source], found: dict[tuple[str, str], int]) -> bool:
    """Set `resolved` on each track not resolved by its customer_id from the identities already stored: store user
    id, then email, then phone (`found` is lookup()'s identities). Reads only. Returns whether a track names a
    person by an email, phone or store user id Kervan does not know yet (resolve_new creates their profile)."""
    by_source: dict[str, set[str]] = defaultdict(set)
    for t in tracks:
        if t.resolved is None and t.user_id:
            by_source[t.source_key].add(t.user_id)
    for key, values in by_source.items():
        by_user_id = identities_lookup(Identity.Kind.SOURCE_ID, values, sources[key])
        for t in tracks:
            if t.resolved is None and t.source_key == key and t.user_id in by_user_id:
                t.resolved = by_user_id[t.user_id]
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
