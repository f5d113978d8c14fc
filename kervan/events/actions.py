"""Writes to the event store. Events are append-only; a repeated dedupe_key is ignored, never stored twice.

`events_ingest` is the one path for the API (track, batch) and the browser tracker: it checks every item first
(nothing is written if one is wrong), resolves customers in bulk (one query per identifier kind), inserts the
events with ON CONFLICT DO NOTHING and moves CustomerStats.last_event_at forward, in one transaction.

Policy: an event for an email, phone or store user id Kervan does not know yet creates that customer (through
customer_identify, so it is audited like any new profile); an event with only an unknown anonymous_id is stored
without a customer and joins a profile when that visitor is identified.
"""

import datetime as dt
import hashlib
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from kervan.accounts.actors import Actor
from kervan.core.audit import audit
from kervan.core.emails import normalize_email
from kervan.core.errors import Conflict, KervanError
from kervan.core.models import Source
from kervan.core.phones import normalize_phone
from kervan.customers.actions import clean_profile
from kervan.customers.identity import customer_identify, identities_lookup
from kervan.customers.models import Customer, Identity
from kervan.events.models import CanonicalEvent, Event, TrackerSite
from kervan.events.store import EventRow, events_insert, last_event_bump

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


@dataclass
class IngestResult:
    accepted: int
    duplicates: int
    identified: int = 0


@dataclass(slots=True)
class _Track:
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
class _Identify:
    index: int
    anonymous_id: str
    email: str
    phone: str
    user_id: str
    source_key: str
    traits: dict
    storefront: bool = False


class _Refusal:
    """Builds the error for item `index`: "batch[3].email: …" in a batch, "email: …" for a single call."""

    def __init__(self, batched: bool):
        self.batched = batched

    def __call__(self, index: int, field: str, detail: str, code: str, status: int = 422) -> KervanError:
        where = f"batch.{index}.{field}" if self.batched else field
        label = f"batch[{index}].{field}" if self.batched else field
        return KervanError(f"{label}: {detail}", code, status=status, field=where)


def events_ingest(
    *,
    actor: Actor,
    items: list,
    default_source: Source | None = None,
    clock_skew: dt.timedelta | None = None,
    storefront_only: bool = False,
    batched: bool = True,
) -> IngestResult:
    """Store a batch of track and identify items (objects shaped like schemas.TrackItem / IdentifyItem).

    Identify items run first, so track items for the same visitor in the batch land on the profile.
    `default_source` namespaces event ids without a `source` of their own (the tracker's site);
    `clock_skew` is added to every occurred_at (a browser's clock error); `storefront_only` refuses the
    server-side canonical events. Any bad item refuses the whole batch; nothing is written.
    """
    refuse = _Refusal(batched)
    now = timezone.now()
    tracks, identifies = _prepare(items, now=now, refuse=refuse, clock_skew=clock_skew, storefront=storefront_only)
    default_key = default_source.key if default_source is not None else "api"
    sources = _sources_for(tracks, identifies, refuse)
    customers = _customers_for(tracks, refuse)
    for track in tracks:
        if track.customer_id is not None:
            track.resolved = customers[track.customer_id]

    def write() -> IngestResult:
        for identify in identifies:
            _run_identify(actor, identify, sources)
        _resolve(actor, tracks, sources)
        rows: dict[str, EventRow] = {}
        for t in tracks:
            key = _dedupe_key(t.source_key or default_key, t.event_id)
            if key in rows:
                continue
            source = sources.get(t.source_key) if t.source_key else default_source
            rows[key] = EventRow(
                dedupe_key=key,
                name=t.name,
                occurred_at=t.occurred_at,
                properties=t.properties,
                customer_id=t.resolved,
                anonymous_id=t.anonymous_id,
                source_id=source.pk if source is not None else None,
            )
        stored = events_insert(list(rows.values()), received_at=now)
        latest: dict[int, dt.datetime] = {}
        for key in stored:
            row = rows[key]
            if row.customer_id is not None and (
                row.customer_id not in latest or latest[row.customer_id] < row.occurred_at
            ):
                latest[row.customer_id] = row.occurred_at
        last_event_bump(latest)
        return IngestResult(accepted=len(stored), duplicates=len(tracks) - len(stored), identified=len(identifies))

    return _atomic_with_retry(write)


def events_identify(*, actor: Actor, item, storefront_only: bool = False) -> tuple[Customer, bool]:
    """One identify call (an object shaped like schemas.IdentifyIn). Returns (customer, created)."""
    refuse = _Refusal(batched=False)
    identify = _prepare_identify(0, item, refuse, require_anonymous=storefront_only)
    sources = _sources_for([], [identify], refuse)
    return _atomic_with_retry(lambda: _run_identify(actor, identify, sources))


def event_record(
    *,
    name: str,
    occurred_at,
    dedupe_key: str,
    customer_id: int | None = None,
    anonymous_id: str = "",
    properties: dict | None = None,
    source=None,
) -> bool:
    """Store one event for a customer (or an anonymous visitor). Returns False if dedupe_key was already seen.

    Used by domain actions (orders emit "Placed Order" and friends) inside their own transaction.
    """
    try:
        with transaction.atomic():
            Event.objects.create(
                name=name,
                occurred_at=occurred_at,
                dedupe_key=dedupe_key,
                customer_id=customer_id,
                anonymous_id=anonymous_id,
                properties=properties or {},
                source=source,
            )
    except IntegrityError:
        return False
    if customer_id is not None:
        last_event_bump({customer_id: occurred_at})
    return True


def events_attach_anonymous(*, anonymous_id: str, customer_id: int) -> int:
    """Give an identified visitor's earlier anonymous events to their profile; their latest counts as activity."""
    pending = Event.objects.filter(anonymous_id=anonymous_id, customer__isnull=True)
    latest = pending.aggregate(latest=Max("occurred_at"))["latest"]
    if latest is None:
        return 0
    moved = pending.update(customer_id=customer_id)
    last_event_bump({customer_id: latest})
    return moved


def events_reassign(*, from_customer_id: int, to_customer_id: int) -> int:
    """Move a merged customer's events to the surviving profile (stats are folded by the merge itself)."""
    return Event.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)


@transaction.atomic
def tracker_site_default(*, actor: Actor) -> TrackerSite:
    """The install's storefront site for the JS tracker, created on first use with a fresh publishable key."""
    site = TrackerSite.objects.filter(is_active=True).order_by("id").first()
    if site is not None:
        return site
    source, _ = Source.objects.get_or_create(key="website", defaults={"name": "Website", "kind": Source.Kind.TRACKER})
    site = TrackerSite.objects.create(name="Website", public_key=_new_public_key(), source=source)
    audit(actor=actor, action="create", obj=site, changes={"name": [None, site.name]})
    return site


@transaction.atomic
def tracker_site_update(*, actor: Actor, site: TrackerSite, allowed_origins: list[str]) -> TrackerSite:
    """Set the storefront origins (scheme://host[:port]) whose pages may send events with this site's key."""
    origins = []
    for raw in allowed_origins:
        origin = normalize_origin(raw)
        if origin not in origins:
            origins.append(origin)
    if len(origins) > 20:
        raise KervanError("At most 20 origins per site.", "too_many_origins", field="allowed_origins")
    if origins != site.allowed_origins:
        audit(actor=actor, action="update", obj=site, changes={"allowed_origins": [site.allowed_origins, origins]})
        site.allowed_origins = origins
        site.save(update_fields=["allowed_origins"])
    return site


def normalize_origin(raw: str) -> str:
    value = (raw or "").strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment:
        raise KervanError(
            f"'{raw}' is not an origin; write it as https://shop.example.com (no path).",
            "invalid_origin",
            field="allowed_origins",
        )
    try:
        port = parts.port
    except ValueError:
        raise KervanError(f"'{raw}' has an invalid port.", "invalid_origin", field="allowed_origins")
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")


def _new_public_key() -> str:
    return "pk_" + secrets.token_urlsafe(18)


# --- preparation: everything that can be checked without writing --------------------------------------------


def _prepare(items, *, now, refuse, clock_skew, storefront) -> tuple[list[_Track], list[_Identify]]:
    latest_allowed = now + FUTURE_TOLERANCE
    tracks: list[_Track] = []
    identifies: list[_Identify] = []
    for i, item in enumerate(items):
        if getattr(item, "type", "track") == "identify":
            identifies.append(_prepare_identify(i, item, refuse, require_anonymous=storefront))
            continue
        occurred = item.occurred_at
        if occurred.tzinfo is None or occurred.utcoffset() is None:
            raise refuse(
                i, "occurred_at", "needs a UTC offset, e.g. 2026-05-01T14:03:00+03:00 or …Z.", "naive_datetime"
            )
        if clock_skew:
            occurred += clock_skew
        if occurred > latest_allowed:
            raise refuse(i, "occurred_at", "is in the future.", "future_datetime")
        if occurred < EARLIEST:
            raise refuse(i, "occurred_at", "is before 1970.", "invalid_datetime")
        if storefront and item.name in SERVER_ONLY_EVENTS:
            raise refuse(
                i,
                "name",
                f"'{item.name}' can only be sent by the server, not a browser.",
                "event_not_allowed",
                status=403,
            )
        properties = item.properties
        if properties:
            _check_properties(i, properties, refuse)
        email, phone, user_id, source_key = _who(i, item, refuse)
        customer_id = getattr(item, "customer_id", None)
        anonymous_id = item.anonymous_id or ""
        if not (customer_id or email or phone or user_id or anonymous_id):
            raise refuse(
                i,
                "customer_id",
                "say who did it: customer_id, email, phone, user_id+source or anonymous_id.",
                "missing_identity",
            )
        tracks.append(
            _Track(
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


def _check_properties(i: int, properties: dict, refuse) -> None:
    try:
        dumped = orjson.dumps(properties)
    except TypeError as exc:  # integers beyond 64 bits, nesting deeper than 255, invalid Unicode
        raise refuse(i, "properties", f"cannot be stored as JSON ({exc}).", "invalid_properties")
    if len(dumped) > MAX_PROPERTIES_BYTES:
        raise refuse(i, "properties", f"at most {MAX_PROPERTIES_BYTES // 1024} KB of JSON.", "properties_too_large")
    if b"\\u0000" in dumped and _NUL_ESCAPE.search(dumped):
        raise refuse(i, "properties", "text cannot contain NUL characters.", "invalid_properties")


def _who(i: int, item, refuse) -> tuple[str, str, str, str]:
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
        raise refuse(i, "source", "user_id needs the key of the source it belongs to.", "missing_source")
    return email, phone, user_id, source_key


def _prepare_identify(i: int, item, refuse, *, require_anonymous: bool) -> _Identify:
    email, phone, user_id, source_key = _who(i, item, refuse)
    anonymous_id = item.anonymous_id or ""
    if not (email or phone or user_id):
        raise refuse(i, "email", "identify needs an email, a phone or user_id+source.", "missing_identity")
    if require_anonymous and not anonymous_id:
        raise refuse(i, "anonymous_id", "is required.", "missing_identity")
    traits = item.traits.model_dump(exclude_none=True)
    try:
        traits = clean_profile(traits)
    except KervanError as exc:
        raise refuse(i, f"traits.{exc.field or ''}".rstrip("."), exc.detail, exc.code)
    return _Identify(i, anonymous_id, email, phone, user_id, source_key, traits, storefront=require_anonymous)


def _sources_for(tracks, identifies, refuse) -> dict[str, Source]:
    first_use: dict[str, int] = {}
    for entry in (*tracks, *identifies):
        if entry.source_key:
            first_use.setdefault(entry.source_key, entry.index)
    if not first_use:
        return {}
    found = Source.objects.in_bulk(list(first_use), field_name="key")
    for key, index in first_use.items():
        if key not in found:
            raise refuse(index, "source", f"no source with key '{key}'.", "unknown_source")
    return found


def _customers_for(tracks, refuse) -> dict[int, int]:
    """{customer_id: the id to store} for the ids named in the batch, following merges to the surviving profile."""
    wanted = {t.customer_id for t in tracks if t.customer_id is not None}
    if not wanted:
        return {}
    merged_into = dict(Customer.objects.filter(pk__in=wanted).values_list("pk", "merged_into_id"))
    for t in tracks:
        if t.customer_id is not None and t.customer_id not in merged_into:
            raise refuse(t.index, "customer_id", f"no customer with id {t.customer_id}.", "unknown_customer")
    resolved = {}
    for pk, target in merged_into.items():
        survivor = pk
        for _ in range(10):  # a merged profile's survivor may itself have been merged later
            if target is None:
                break
            survivor = target
            target = Customer.objects.filter(pk=survivor).values_list("merged_into_id", flat=True).first()
        resolved[pk] = survivor
    return resolved


# --- writing ----------------------------------------------------------------------------------------------


def _run_identify(actor: Actor, identify: _Identify, sources: dict[str, Source]) -> tuple[Customer, bool]:
    traits = identify.traits
    if identify.storefront and traits and _known(identify):
        # Anyone can type anyone's email into a shop's form: a browser may name a new profile, never rename one.
        traits = {}
    return customer_identify(
        actor=actor,
        anonymous_id=identify.anonymous_id,
        email=identify.email,
        phone=identify.phone,
        source=sources.get(identify.source_key) if identify.source_key else None,
        source_customer_id=identify.user_id,
        traits=traits,
    )


def _known(identify: _Identify) -> bool:
    return bool(
        (identify.email and identities_lookup(Identity.Kind.EMAIL, [identify.email]))
        or (identify.phone and identities_lookup(Identity.Kind.PHONE, [identify.phone]))
    )


def _resolve(actor: Actor, tracks: list[_Track], sources: dict[str, Source]) -> None:
    """Set `resolved` on each track: store user id, then email, then phone (bulk lookups); unknown strong
    identifiers create or extend a profile through customer_identify; then the anonymous visitor id."""
    by_source: dict[str, set[str]] = defaultdict(set)
    for t in tracks:
        if t.resolved is None and t.user_id:
            by_source[t.source_key].add(t.user_id)
    for key, values in by_source.items():
        found = identities_lookup(Identity.Kind.SOURCE_ID, values, sources[key])
        for t in tracks:
            if t.resolved is None and t.source_key == key and t.user_id in found:
                t.resolved = found[t.user_id]
    for kind, attr in ((Identity.Kind.EMAIL, "email"), (Identity.Kind.PHONE, "phone")):
        values = {getattr(t, attr) for t in tracks if t.resolved is None and getattr(t, attr)}
        if values:
            found = identities_lookup(kind, values)
            for t in tracks:
                if t.resolved is None and getattr(t, attr) in found:
                    t.resolved = found[getattr(t, attr)]
    known: dict[tuple, int] = {}
    for t in tracks:
        if t.resolved is not None or not (t.email or t.phone or t.user_id):
            continue
        keys = [k for k in (("e", t.email), ("p", t.phone), ("u", t.source_key, t.user_id)) if k[-1]]
        t.resolved = next((known[k] for k in keys if k in known), None)
        if t.resolved is None:
            customer, _ = customer_identify(
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
    anonymous = {t.anonymous_id for t in tracks if t.resolved is None and t.anonymous_id}
    if anonymous:
        found = identities_lookup(Identity.Kind.ANONYMOUS, anonymous)
        for t in tracks:
            if t.resolved is None and t.anonymous_id in found:
                t.resolved = found[t.anonymous_id]


def _dedupe_key(namespace: str, event_id: str) -> str:
    key = f"{namespace}:{event_id}"
    if len(key) <= 100:
        return key
    return f"{namespace}:#{hashlib.sha256(event_id.encode()).hexdigest()[:32]}"


def _atomic_with_retry(write, attempts: int = 3):
    """Run `write` in a transaction; on PostgreSQL a deadlock between two batches sharing customers is retried."""
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                return write()
        except OperationalError as exc:
            retryable = getattr(exc.__cause__, "sqlstate", None) in ("40P01", "40001")
            if not retryable or attempt == attempts - 1 or connection.in_atomic_block:
                raise
        except IntegrityError:
            # A customer named in the batch was deleted (or merged away) between the check and the commit.
            raise Conflict("A customer in this batch changed while it was being stored; send it again.", "conflict")
    raise AssertionError("unreachable")
