"""What the consent ledger says: the state for one address, and the state cached on the customer.

Consent is given for an address, as İYS keeps it per recipient: an email for the email channel, a phone number for
SMS, calls and WhatsApp. Push goes to the customer's devices, has no address and is kept per customer. For one
(customer, channel, purpose, address) the latest record decides (LATEST_FIRST). The customer's consent_<channel>
columns cache the marketing state for the address messages go to now, so lists and segments filter without the ledger.
"""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Case, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from kervan.core.emails import email_match_key
from kervan.core.errors import check_choice
from kervan.core.phones import normalize_phone
from kervan.customers.models import ConsentRecord, Customer

Channel = ConsentRecord.Channel
Purpose = ConsentRecord.Purpose

# The customer field that holds the address messages on a channel go to (None: push, which has no address).
ADDRESS_FIELD: dict[str, str | None] = {
    "email": "email",
    "sms": "phone",
    "call": "phone",
    "whatsapp": "phone",
    "push": None,
}
# The customer field an address is matched on: an email by its mailbox (Customer.email_key, the same key identities
# hold), so every form of one mailbox is one address for consent; a phone as stored (E.164).
MATCH_FIELD: dict[str, str | None] = {**ADDRESS_FIELD, "email": "email_key"}
CACHE_FIELDS = tuple(f"consent_{channel}" for channel in Channel.values)
# Newest first. At the same instant a refusal comes first: a "stop" and a "subscribe" stamped with one time must not
# let us send. Then the later insert, so the order is total and the same on every database.
LATEST_FIRST = (
    F("occurred_at").desc(),
    Case(When(status=ConsentRecord.Status.REFUSED, then=Value(0)), default=Value(1)).asc(),
    F("id").desc(),
)
REFRESH_CHUNK = 900  # ids per statement: under SQLite's limit on bound parameters


def consent_address(customer: Customer, channel: str) -> str:
    """The address messages on `channel` go to now, as consent records name it: the mailbox of the customer's email,
    or their phone ("" for push, or none on file)."""
    field = MATCH_FIELD[channel]
    return getattr(customer, field) if field else ""


def normalize_consent_address(channel: str, address: str) -> str:
    """`address` as consent records name it, the way identities hold it: "0532 111 22 33" and "+905321112233" are
    one address, and so are "Ayse.Kaya+shop@googlemail.com" and "aysekaya@gmail.com" (one mailbox)."""
    field = ADDRESS_FIELD[channel]
    if field is None or not address:
        return ""
    if field == "email":
        return email_match_key(address, field="address")
    return normalize_phone(address, field="address")


def consent_state(
    customer: Customer, channel: str, purpose: str = Purpose.MARKETING, address: str | None = None
) -> str:
    """Whether a message on `channel` for `purpose` may go to `address` (by default the address messages go to now):
    "granted", "refused" or "" (never asked). Messaging asks this before sending."""
    check_choice(channel, Channel, field="channel")
    check_choice(purpose, Purpose, field="purpose")
    if address is None:
        address = consent_address(customer, channel)
    else:
        address = normalize_consent_address(channel, address)
    return _latest(customer.pk, channel, purpose, address).values_list("status", flat=True).first() or ""


def consent_latest(customer: Customer) -> dict[str, dict[str, ConsentRecord | None]]:
    """channel → purpose → the record that decides for the address messages go to now (None: never asked).

    One query however long the history: a sub-select per channel and purpose, each a short walk down
    consent_address_idx, the same on SQLite and PostgreSQL."""
    deciding = Q()
    for channel in Channel.values:
        address = consent_address(customer, channel)
        for purpose in Purpose.values:
            deciding |= Q(pk=Subquery(_latest(customer.pk, channel, purpose, address).values("pk")[:1]))
    found = {(r.channel, r.purpose): r for r in ConsentRecord.objects.filter(deciding)}
    return {
        channel: {purpose: found.get((channel, purpose)) for purpose in Purpose.values} for channel in Channel.values
    }


def consent_cache_refresh(customer: Customer) -> None:
    """Recompute `customer`'s cached consent (consent_caches_refresh) and copy it onto this instance, so a later
    save() of the instance writes the fresh values."""
    consent_caches_refresh([customer.pk])
    customer.refresh_from_db(fields=CACHE_FIELDS)


@transaction.atomic
def consent_caches_refresh(customer_ids: Iterable[int]) -> None:
    """Set consent_<channel> of these customers to the marketing state for their current email/phone, read from the
    ledger and the rows themselves, never from a copy of the customer in memory, which may be stale.

    The rows are locked first (SELECT … FOR UPDATE) and the states computed by the next statement: on PostgreSQL a
    statement sees what committed before it began, so a writer of the same customer that committed while we waited
    for its lock is counted. An UPDATE alone would wait for the lock too, but compute its sub-selects from what it saw
    before waiting. SQLite has one writer at a time."""
    ids = sorted(set(customer_ids))
    states = {f"consent_{channel}": _cached_state(channel) for channel in Channel.values}
    for start in range(0, len(ids), REFRESH_CHUNK):
        rows = Customer.objects.filter(pk__in=ids[start : start + REFRESH_CHUNK])
        list(rows.select_for_update().order_by("pk").values_list("pk", flat=True))  # in id order: no deadlocks
        rows.update(**states)


def _latest(
    customer_id: int | OuterRef, channel: str, purpose: str, address: str | OuterRef
) -> QuerySet[ConsentRecord]:
    """The records for one customer, channel, purpose and address (any address for push), the deciding one first;
    OuterRefs when it is a sub-select of an UPDATE of customers."""
    records = ConsentRecord.objects.filter(customer_id=customer_id, channel=channel, purpose=purpose)
    if ADDRESS_FIELD[channel] is not None:
        records = records.filter(address=address)
    return records.order_by(*LATEST_FIRST)


def _cached_state(channel: str) -> Coalesce:
    """The marketing state of the customer row being updated, for the address in its own email/phone column."""
    field = MATCH_FIELD[channel]
    latest = _latest(OuterRef("pk"), channel, Purpose.MARKETING, OuterRef(field) if field else "")
    return Coalesce(Subquery(latest.values("status")[:1]), Value(""))
