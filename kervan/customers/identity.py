"""Identity resolution: from whatever a source knows about a person to one Customer."""

import orjson
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from kervan.accounts.actors import Actor
from kervan.core.db import server_bound_cursor
from kervan.core.emails import email_match_key, normalize_email
from kervan.core.errors import Conflict
from kervan.core.phones import normalize_phone
from kervan.customers.actions import audit_identity_added, customer_create, customer_update
from kervan.customers.models import Customer, Identity

TRAIT_FIELDS = ("first_name", "last_name", "birth_date", "gender", "city", "country", "language", "time_zone")


def _match_values(values_by_kind: dict[str, set[str]]) -> tuple[dict[str, set[str]], dict[tuple[str, str], list[str]]]:
    """The values to look up per kind (emails as their mailbox key, kervan.core.emails.email_match_key) and, for the
    emails, which of the given values each key answers: callers pass emails in any normalised form and get their
    results under the values they gave."""
    emails = values_by_kind.get(Identity.Kind.EMAIL)
    if not emails:
        return values_by_kind, {}
    asked: dict[tuple[str, str], list[str]] = {}
    for email in emails:
        asked.setdefault((Identity.Kind.EMAIL, email_match_key(email)), []).append(email)
    return {**values_by_kind, Identity.Kind.EMAIL: {key for _kind, key in asked}}, asked


def _answers(found: dict[tuple[str, str], int], asked: dict[tuple[str, str], list[str]]) -> dict[tuple[str, str], int]:
    """`found` ({(kind, stored value): customer_id}) under the values the caller gave (see _match_values)."""
    if not asked:
        return found
    answers = {}
    for (kind, value), customer_id in found.items():
        for given in asked.get((kind, value), (value,)):
            answers[(kind, given)] = customer_id
    return answers


def identities_lookup(kind: str, values, source=None) -> dict[str, int]:
    """{value: customer_id} for the given identity values of one kind, in one query (merged profiles followed).
    Emails match by their mailbox key, whichever form of the address is given."""
    wanted, asked = _match_values({kind: set(values)})
    rows = Identity.objects.filter(kind=kind, value__in=wanted[kind], source=source).values_list(
        "value", "customer_id", "customer__merged_into_id"
    )
    found = {(kind, value): merged_into or customer_id for value, customer_id, merged_into in rows}
    return {value: customer_id for (_kind, value), customer_id in _answers(found, asked).items()}


def identities_lookup_global(values_by_kind: dict[str, set[str]]) -> dict[tuple[str, str], int]:
    """{(kind, value): customer_id} for source-less identities (email, phone, visitor id) of several kinds, in one
    query (merged profiles followed) — the batch event path resolves a whole batch with it. Emails match by their
    mailbox key, whichever form of the address is given."""
    wanted, asked = _match_values(values_by_kind)
    condition = Q()
    for kind, values in wanted.items():
        if values:
            condition |= Q(kind=kind, value__in=set(values))
    if not condition:
        return {}
    rows = Identity.objects.filter(condition, source__isnull=True).values_list(
        "kind", "value", "customer_id", "customer__merged_into_id"
    )
    found = {(kind, value): merged_into or customer_id for kind, value, customer_id, merged_into in rows}
    return _answers(found, asked)


def store_id_key(source_id: int) -> str:
    """The kind under which identities_lookup_batch answers a store customer id of one source."""
    return f"{Identity.Kind.SOURCE_ID}:{source_id}"


def identities_lookup_batch(
    *, customer_ids: set[int], values_by_kind: dict[str, set[str]], store_ids: dict[int, set[str]] | None = None
) -> tuple[dict[int, int | None], dict[tuple[str, str], int]]:
    """({customer_id: merged_into_id} for those of `customer_ids` that exist, identities_lookup_global(values_by_kind)
    plus the store customer ids of `store_ids` ({source id: ids}) under (store_id_key(source id), id)).

    The batch event path checks the customer ids it is given and resolves every email, phone, visitor id and store
    customer id of a batch with this. On PostgreSQL it is one query, bound on the server: the ORM cost about 1 ms of
    Python per query for it."""
    store_ids = {sid: values for sid, values in (store_ids or {}).items() if values}
    if connection.vendor != "postgresql":
        merged = (
            dict(Customer.objects.filter(pk__in=customer_ids).values_list("pk", "merged_into_id"))
            if customer_ids
            else {}
        )
        found = identities_lookup_global(values_by_kind)
        for sid, values in store_ids.items():
            for value, customer_id in identities_lookup(Identity.Kind.SOURCE_ID, values, sid).items():
                found[(store_id_key(sid), value)] = customer_id
        return merged, found
    values_by_kind, asked = _match_values(values_by_kind)
    wanted = [{"k": kind, "v": value} for kind, kind_values in values_by_kind.items() for value in kind_values]
    stored = [{"s": sid, "v": value} for sid, values in store_ids.items() for value in values]
    if not customer_ids and not wanted and not stored:
        return {}, {}
    customers = connection.ops.quote_name(Customer._meta.db_table)
    identities = connection.ops.quote_name(Identity._meta.db_table)
    sql = (
        f"SELECT NULL, NULL, c.id, c.merged_into_id FROM {customers} AS c WHERE c.id = ANY(%s::bigint[])"
        " UNION ALL"
        " SELECT i.kind, i.value, i.customer_id, c.merged_into_id FROM json_to_recordset(%s::json) AS w(k text, v text)"
        f" JOIN {identities} AS i ON i.kind = w.k AND i.value = w.v AND i.source_id IS NULL"
        f" JOIN {customers} AS c ON c.id = i.customer_id"
        " UNION ALL"
        " SELECT 'source_id:' || w.s, i.value, i.customer_id, c.merged_into_id"
        " FROM json_to_recordset(%s::json) AS w(s bigint, v text)"
        f" JOIN {identities} AS i ON i.kind = 'source_id' AND i.value = w.v AND i.source_id = w.s"
        f" JOIN {customers} AS c ON c.id = i.customer_id"
    )
    # The ids as an array literal and the values as one JSON document, both made in C: psycopg would dump the
    # elements of Python lists one by one.
    ids = "{" + ",".join(map(str, customer_ids)) + "}"
    with server_bound_cursor() as cursor:
        cursor.execute(sql, [ids, orjson.dumps(wanted).decode(), orjson.dumps(stored).decode()])
        rows = cursor.fetchall()
    merged, found = {}, {}
    for kind, value, customer_id, merged_into in rows:
        if kind is None:
            merged[customer_id] = merged_into
        else:
            found[(kind, value)] = merged_into or customer_id
    return merged, _answers(found, asked)


def customer_resolve(
    *, email: str = "", phone: str = "", source=None, source_customer_id: str = "", anonymous_id: str = ""
) -> Customer | None:
    """The customer these identifiers point at, strongest first: store id, email (by its mailbox key), phone,
    visitor id."""
    candidates = []
    if source is not None and source_customer_id:
        candidates.append((Identity.Kind.SOURCE_ID, str(source_customer_id), source))
    if email:
        candidates.append((Identity.Kind.EMAIL, email_match_key(email), None))
    if phone:
        candidates.append((Identity.Kind.PHONE, phone, None))
    if anonymous_id:
        candidates.append((Identity.Kind.ANONYMOUS, anonymous_id, None))
    for kind, value, src in candidates:
        identity = Identity.objects.filter(kind=kind, value=value, source=src).select_related("customer").first()
        if identity is not None:
            customer = identity.customer
            while customer.merged_into_id:  # follow merges to the surviving profile
                customer = customer.merged_into
            return customer
    return None


@transaction.atomic
def customer_identify(
    *,
    actor: Actor,
    anonymous_id: str = "",
    email: str = "",
    phone: str = "",
    source=None,
    source_customer_id: str = "",
    traits: dict | None = None,
) -> tuple[Customer, bool]:
    """Find or create the customer behind these identifiers and attach any new ones. Returns (customer, created).
    (The events app then joins an anonymous visitor's past events to the profile: events.ingest.identify_visitor.)

    An identifier that already belongs to a different customer is left where it is: two profiles that
    share a person are a merge suggestion for staff, never merged silently.

    Get-or-create: when another transaction creates the same person between the look-up and the insert (two
    identify calls at once for a new email), the unique identity wins for it and this call goes on with its profile.
    The email is stored as typed (normalize_email) and matched by its mailbox key (email_match_key).
    """
    email = normalize_email(email) if email else ""
    email_key = email_match_key(email) if email else ""
    phone = normalize_phone(phone) if phone else ""
    anonymous_id = (anonymous_id or "").strip()[:100]
    traits = {k: v for k, v in (traits or {}).items() if k in TRAIT_FIELDS and v not in (None, "")}
    identifiers = {
        "email": email,
        "phone": phone,
        "source": source,
        "source_customer_id": source_customer_id,
        "anonymous_id": anonymous_id,
    }
    customer = customer_resolve(**identifiers)
    created = customer is None
    if customer is None:
        try:
            with transaction.atomic():  # a savepoint: a lost race undoes only this attempt
                customer = _create(
                    actor,
                    email=email,
                    email_key=email_key,
                    phone=phone,
                    source=source,
                    source_customer_id=source_customer_id,
                    traits=traits,
                )
        except Conflict as lost:
            if not lost.code.startswith("duplicate_"):
                raise
            customer = customer_resolve(**identifiers)  # the profile the other transaction has just committed
            if customer is None:
                raise
            created = False
    if not created:
        updates = {k: v for k, v in traits.items() if str(getattr(customer, k) or "") != str(v)}
        if not customer.email and email and not _taken(Identity.Kind.EMAIL, email_key, customer):
            updates["email"] = email
        if not customer.phone and phone and not _taken(Identity.Kind.PHONE, phone, customer):
            updates["phone"] = phone
        if updates:
            customer_update(actor=actor, customer=customer, **updates)
        for kind, value, src in (
            (Identity.Kind.EMAIL, email_key, None),
            (Identity.Kind.PHONE, phone, None),
            (Identity.Kind.SOURCE_ID, str(source_customer_id or ""), source),
        ):
            if value and (kind != Identity.Kind.SOURCE_ID or source is not None):
                if not Identity.objects.filter(kind=kind, value=value, source=src).exists():
                    _attach(actor, customer, kind, value, src)
    if anonymous_id:
        if not Identity.objects.filter(kind=Identity.Kind.ANONYMOUS, value=anonymous_id).exists():
            _attach(actor, customer, Identity.Kind.ANONYMOUS, anonymous_id, None)
    return customer, created


def _create(
    actor: Actor, *, email: str, email_key: str, phone: str, source, source_customer_id: str, traits: dict
) -> Customer:
    """A new profile with the email and phone nobody holds yet (Conflict "duplicate_…" if another transaction claims
    one of its identifiers first)."""
    free_email = email and not Identity.objects.filter(kind=Identity.Kind.EMAIL, value=email_key).exists()
    free_phone = phone and not Identity.objects.filter(kind=Identity.Kind.PHONE, value=phone).exists()
    return customer_create(
        actor=actor,
        email=email if free_email else "",
        phone=phone if free_phone else "",
        source=source,
        source_customer_id=source_customer_id,
        **traits,
    )


def _attach(actor: Actor, customer: Customer, kind: str, value: str, source) -> None:
    """A new identifier for the customer, audited like any change to their data. One that another transaction has
    attached in the meantime stays where it is (identify never takes an identifier from anyone)."""
    try:
        with transaction.atomic():
            Identity.objects.create(customer=customer, kind=kind, value=value, source=source)
    except IntegrityError:
        return
    audit_identity_added(actor=actor, customer=customer, kind=kind, value=value)


def _taken(kind: str, value: str, customer: Customer) -> bool:
    return Identity.objects.filter(kind=kind, value=value).exclude(customer=customer).exists()
