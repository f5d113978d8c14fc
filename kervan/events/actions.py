"""Writes to the event store. Events are append-only; a repeated dedupe_key is ignored, never stored twice.

`events_ingest` is the one path for the API (track, batch) and the browser tracker: it checks every item first
(nothing is written if one is wrong), looks up the named customer ids and the identities of the whole batch in one
query, inserts the events with ON CONFLICT DO NOTHING and moves CustomerStats.last_event_at forward (on PostgreSQL
one statement for both), in one transaction — or, on PostgreSQL, with none when that statement is the batch's only
write (track items only, every person already known).

Policy: an event for an email, phone or store user id Kervan does not know yet creates that customer (through
customer_identify, so it is audited like any new profile); an event with only an unknown anonymous_id is stored
without a customer and joins a profile when that visitor is identified.
"""

import datetime as dt
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.audit import audit
from kervan.core.errors import Conflict, KervanError
from kervan.core.models import Source
from kervan.customers.models import Customer
from kervan.events import ingest
from kervan.events.models import Event, TrackerSite
from kervan.events.store import EventRow, events_store, events_store_is_one_statement
from kervan.events.storefront import Storefront


@dataclass
class IngestResult:
    accepted: int
    duplicates: int
    identified: int = 0


def events_ingest(
    *,
    actor: Actor,
    items: list,
    default_source: Source | None = None,
    clock_skew: dt.timedelta | None = None,
    storefront: Storefront | None = None,
    batched: bool = True,
) -> IngestResult:
    """Store a batch of track and identify items (objects shaped like schemas.TrackItem / IdentifyItem).

    Identify items run first, so track items for the same visitor in the batch land on the profile.
    `default_source` namespaces event ids without a `source` of their own (the tracker's site);
    `clock_skew` is added to every occurred_at (a browser's clock error); `storefront` (a browser through the
    public tracker) refuses the server-side canonical events and applies the tracker's identity rules and profile
    limits (kervan.events.storefront). Any bad item refuses the whole batch; nothing is written.
    """
    refuse = ingest.Refusal(batched)
    now = clock.now()
    tracks, identifies = ingest.prepare(items, now=now, refuse=refuse, clock_skew=clock_skew, storefront=storefront)
    default_key = default_source.key if default_source is not None else "api"
    sources = ingest.sources_for(tracks, identifies, refuse, known=default_source)

    def look_up() -> tuple[dict, bool]:
        merged_into, found = ingest.lookup(tracks, sources)
        customers = ingest.customers_for(tracks, merged_into, refuse)
        for track in tracks:
            track.resolved = customers[track.customer_id] if track.customer_id is not None else None
        return found, ingest.resolve_known(tracks, sources, found)

    def store(found: dict) -> IngestResult:
        ingest.resolve_new(actor, tracks, sources, found)
        rows: dict[str, EventRow] = {}
        for t in tracks:
            key = ingest.dedupe_key(t.source_key or default_key, t.event_id)
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
        stored = events_store(list(rows.values()), received_at=now)
        return IngestResult(accepted=len(stored), duplicates=len(tracks) - len(stored), identified=len(identifies))

    def write() -> IngestResult:
        for identify in identifies:
            ingest.run_identify(actor, identify, sources)
        # After the identify items, so track items for the visitors they name land on the profiles.
        found, _unknown = look_up()
        return store(found)

    if identifies or not events_store_is_one_statement():
        return _atomic_with_retry(write)
    # Only track items: the look-ups are reads, and unless a new profile must be created the only write is the
    # event store's single statement, atomic by itself: no BEGIN/COMMIT round trips for the common batch.
    found, unknown = look_up()
    if unknown:
        return _atomic_with_retry(write)
    return _atomic_with_retry(lambda: store(found), atomic=False)


def events_identify(*, actor: Actor, item) -> tuple[Customer, bool]:
    """One identify call from the API (an object shaped like schemas.IdentifyIn). Returns (customer, created)."""
    refuse = ingest.Refusal(batched=False)
    identify = ingest.prepare_identify(0, item, refuse)
    sources = ingest.sources_for([], [identify], refuse)
    customer, created = _atomic_with_retry(lambda: ingest.run_identify(actor, identify, sources))
    assert customer is not None  # only a browser's identify may leave the visitor as they were
    return customer, created


def events_record(
    events: list[dict], *, customer_id: int | None = None, anonymous_id: str = "", source=None
) -> set[str]:
    """Store events that domain actions emit ("Placed Order" and its "Ordered Product" lines …) for one customer
    or visitor, in one insert through the event store; a dedupe_key already seen is skipped. Each event is
    {"name", "occurred_at", "dedupe_key", "properties"}. Returns the keys stored. Runs in the caller's transaction.
    """
    rows = [
        EventRow(
            dedupe_key=e["dedupe_key"],
            name=e["name"],
            occurred_at=e["occurred_at"],
            properties=e.get("properties") or {},
            customer_id=customer_id,
            anonymous_id=anonymous_id,
            source_id=source.pk if source is not None else None,
        )
        for e in events
    ]
    return events_store(rows, received_at=clock.now())


def events_record_many(events: list[dict], *, source=None) -> set[str]:
    """Like events_record, for events of many customers at once (each dict also has "customer_id"): one insert
    through the event store for a whole batch (a worker's sent messages). Runs in the caller's transaction."""
    rows = [
        EventRow(
            dedupe_key=e["dedupe_key"],
            name=e["name"],
            occurred_at=e["occurred_at"],
            properties=e.get("properties") or {},
            customer_id=e["customer_id"],
            anonymous_id="",
            source_id=source.pk if source is not None else None,
        )
        for e in events
    ]
    return events_store(rows, received_at=clock.now())


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
    """Store one event; False if its dedupe_key was already seen."""
    event = {"name": name, "occurred_at": occurred_at, "dedupe_key": dedupe_key, "properties": properties}
    return bool(events_record([event], customer_id=customer_id, anonymous_id=anonymous_id, source=source))


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
    site = TrackerSite.objects.create(
        name="Website", public_key=_new_public_key(), identity_secret=_new_identity_secret(), source=source
    )
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
        raise KervanError(_("At most 20 origins per site."), "too_many_origins", field="allowed_origins")
    if origins != site.allowed_origins:
        audit(actor=actor, action="update", obj=site, changes={"allowed_origins": [site.allowed_origins, origins]})
        site.allowed_origins = origins
        site.save(update_fields=["allowed_origins"])
    return site


@transaction.atomic
def tracker_site_rotate_secret(*, actor: Actor, site: TrackerSite) -> TrackerSite:
    """A new identity secret for the site (the old one leaked, or staff changed): signatures made with the old one
    stop verifying at once, so the shop's server must switch to the new one. The audit row records that it changed,
    never the secret."""
    site.identity_secret = _new_identity_secret()
    site.save(update_fields=["identity_secret"])
    audit(actor=actor, action="update", obj=site, changes={"identity_secret": ["…", "…"]})
    return site


def normalize_origin(raw: str) -> str:
    value = (raw or "").strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment:
        raise KervanError(
            _("'%(value)s' is not an origin; write it as https://shop.example.com (no path).") % {"value": raw},
            "invalid_origin",
            field="allowed_origins",
        )
    try:
        port = parts.port
    except ValueError:
        raise KervanError(
            _("'%(value)s' has an invalid port.") % {"value": raw}, "invalid_origin", field="allowed_origins"
        )
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")


def _new_public_key() -> str:
    return "pk_" + secrets.token_urlsafe(18)


def _new_identity_secret() -> str:
    return "sk_" + secrets.token_urlsafe(32)


def _atomic_with_retry(write, attempts: int = 3, *, atomic: bool = True):
    """Run `write` in a transaction; on PostgreSQL a deadlock between two batches sharing customers is retried.

    `atomic=False` is for a `write` that is a single statement (atomic on its own): it runs in autocommit mode."""
    for attempt in range(attempts):
        try:
            if not atomic:
                return write()
            with transaction.atomic():
                return write()
        except OperationalError as exc:
            retryable = getattr(exc.__cause__, "sqlstate", None) in ("40P01", "40001")
            if not retryable or attempt == attempts - 1 or connection.in_atomic_block:
                raise
        except IntegrityError:
            # A customer or source named in the batch was deleted (or merged away) between the check and the commit.
            raise Conflict(_("A customer in this batch changed while it was being stored; send it again."), "conflict")
    raise AssertionError("unreachable")
