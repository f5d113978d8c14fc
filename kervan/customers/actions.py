"""Every write to customer data: validated, written, audited in one transaction."""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core.audit import audit, diff
from kervan.core.emails import email_match_key
from kervan.core.errors import Conflict, KervanError, NotFound, check_choice
from kervan.core.outgoing import emit
from kervan.core.phones import normalize_phone
from kervan.customers.consent_state import consent_cache_refresh
from kervan.customers.custom_fields import clean_custom_fields
from kervan.customers.models import (
    ConsentRecord,
    Customer,
    CustomerMerge,
    CustomerNote,
    Identity,
    Tag,
)
from kervan.customers.profile import PROFILE_FIELDS, clean_profile
from kervan.customers.registry import merge_handlers
from kervan.customers.search import customer_name_key, customer_search_key
from kervan.customers.stats import stats_create_empty, stats_merge


def _refresh_keys(customer: Customer) -> None:
    customer.search_key = customer_search_key(
        first_name=customer.first_name,
        last_name=customer.last_name,
        email=customer.email,
        phone=customer.phone,
        city=customer.city,
    )
    customer.name_key = customer_name_key(first_name=customer.first_name, last_name=customer.last_name)
    customer.email_key = email_match_key(customer.email) if customer.email else ""


def _claim_identity(customer: Customer, kind: str, value: str, source=None) -> Identity:
    """Point (kind, value[, source]) at `customer`; refuse if it already belongs to someone else. An email is held
    by its mailbox key (kervan.core.emails.email_match_key): every form of one mailbox is one identity."""
    if kind == Identity.Kind.EMAIL:
        value = email_match_key(value)
    existing = Identity.objects.filter(kind=kind, value=value, source=source).first()
    if existing is not None:
        if existing.customer_id != customer.pk:
            raise Conflict(
                _("%(kind)s '%(value)s' already belongs to customer %(customer_id)s.")
                % {"kind": kind, "value": value, "customer_id": existing.customer_id},
                f"duplicate_{kind}",
            )
        return existing
    try:
        with transaction.atomic():
            return Identity.objects.create(customer=customer, kind=kind, value=value, source=source)
    except IntegrityError:  # someone claimed it concurrently
        raise Conflict(
            _("%(kind)s '%(value)s' already belongs to another customer.") % {"kind": kind, "value": value},
            f"duplicate_{kind}",
        )


def _set_tags(customer: Customer, names) -> None:
    names = sorted({str(n).strip()[:64] for n in names if str(n).strip()})
    tags = []
    for name in names:
        tag, _ = Tag.objects.get_or_create(name=name)
        tags.append(tag)
    customer.tags.set(tags)


@transaction.atomic
def customers_tag(*, actor: Actor, customer_ids: list[int], tag: str) -> int:
    """Add `tag` to each of these customers (a bulk action on a list); returns how many gained it. Each change is
    audited on its customer, so every 360 shows who tagged it and when."""
    actor.require("customers", "write")
    name = str(tag).strip()[:64]
    if not name:
        raise KervanError(_("Name the tag to add."), "invalid_tag", field="tag")
    tag_row, _created = Tag.objects.get_or_create(name=name)
    rows = actor.scope("customers", Customer.objects.active()).filter(pk__in=customer_ids).exclude(tags=tag_row)
    gained = list(rows.values_list("pk", flat=True))
    tag_row.customers.add(*gained)
    for pk in gained:
        audit(
            actor=actor,
            action="update",
            object_type="customers.customer",
            object_id=pk,
            customer_id=pk,
            changes={"tags": {"added": name}},
        )
    return len(gained)


@transaction.atomic
def customer_tags_change(*, actor: Actor, customer_id: int, add=(), remove=()) -> bool:
    """Add and remove tags by name on one customer (a flow's tag step); audited when anything changed."""
    actor.require("customers", "write")
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return False
    old = sorted(customer.tags.values_list("name", flat=True))
    wanted = (set(old) | {str(n).strip()[:64] for n in add if str(n).strip()}) - {str(n).strip() for n in remove}
    if wanted == set(old):
        return False
    _set_tags(customer, wanted)
    audit(
        actor=actor,
        action="update",
        obj=customer,
        customer_id=customer.pk,
        changes={"tags": [old, sorted(wanted)]},
    )
    return True


@transaction.atomic
def customer_create(
    *,
    actor: Actor,
    tags=(),
    custom_fields: dict | None = None,
    source=None,
    source_customer_id: str = "",
    **profile,
) -> Customer:
    """Create a customer with its identities (email, phone, store id) and an empty stats row."""
    cleaned = clean_profile(profile)
    customer = Customer(**cleaned, source=source)
    customer.custom_fields = clean_custom_fields(custom_fields or {})
    _refresh_keys(customer)
    customer.save()
    if customer.email:
        _claim_identity(customer, Identity.Kind.EMAIL, customer.email)
    if customer.phone:
        _claim_identity(customer, Identity.Kind.PHONE, customer.phone)
    if source_customer_id:
        if source is None:
            raise KervanError(_("source_customer_id needs a source."), "missing_source", field="source")
        _claim_identity(customer, Identity.Kind.SOURCE_ID, str(source_customer_id), source)
    if tags:
        _set_tags(customer, tags)
    stats_create_empty([customer.pk])
    audit(
        actor=actor,
        action="create",
        obj=customer,
        customer_id=customer.pk,
        changes={k: [None, v] for k, v in cleaned.items() if v not in ("", None)},
    )
    emit("customer.created", event_id=f"customer:{customer.pk}:created", data={"customer": _outbound(customer)})
    return customer


@transaction.atomic
def customer_update(
    *, actor: Actor, customer: Customer, tags=None, custom_fields: dict | None = None, **profile
) -> Customer:
    """Change profile fields; a new email/phone becomes an identity too (the old one stays, for recognition)."""
    cleaned = clean_profile(profile)
    changes = diff(customer, cleaned)
    if custom_fields is not None:
        new_custom = clean_custom_fields(custom_fields, existing=customer.custom_fields)
        if new_custom != customer.custom_fields:
            changes["custom_fields"] = [customer.custom_fields, new_custom]
            customer.custom_fields = new_custom
    for name, (_old, new) in changes.items():
        setattr(customer, name, new)
    if "email" in changes and customer.email:
        _claim_identity(customer, Identity.Kind.EMAIL, customer.email)
    if "phone" in changes and customer.phone:
        _claim_identity(customer, Identity.Kind.PHONE, customer.phone)
    if tags is not None:
        old_tags = sorted(customer.tags.values_list("name", flat=True))
        _set_tags(customer, tags)
        new_tags = sorted(customer.tags.values_list("name", flat=True))
        if old_tags != new_tags:
            changes["tags"] = [old_tags, new_tags]
    if changes:
        _refresh_keys(customer)
        customer.save()
        # The cached consent describes the current email/phone, which may have changed; and save() just wrote this
        # copy's cached consent, which may be stale.
        consent_cache_refresh(customer)
        audit(actor=actor, action="update", obj=customer, customer_id=customer.pk, changes=changes)
    return customer


@transaction.atomic
def customer_delete(*, actor: Actor, customer: Customer) -> None:
    """Erase a customer and everything about them (a KVKK/GDPR erasure). Orders keep their numbers only."""
    if customer.orders.exists():
        raise Conflict(_("This customer has orders; anonymise instead of deleting."), "has_orders")
    audit(
        actor=actor,
        action="delete",
        obj=customer,
        customer_id=customer.pk,
        changes={"name": [customer.full_name, None], "email": [customer.email, None]},
    )
    customer.delete()


@transaction.atomic
def note_add(*, actor: Actor, customer: Customer, body: str) -> CustomerNote:
    body = (body or "").strip()
    if not body:
        raise KervanError(_("A note cannot be empty."), "empty_note", field="body")
    if len(body) > 10_000:
        raise KervanError(_("A note can be at most 10,000 characters."), "too_long", field="body")
    note = CustomerNote.objects.create(customer=customer, author=actor.user, body=body)
    audit(actor=actor, action="create", obj=note, customer_id=customer.pk, changes={"body": [None, body[:200]]})
    return note


@transaction.atomic
def identity_add(*, actor: Actor, customer: Customer, kind: str, value: str, source=None) -> Identity:
    check_choice(kind, Identity.Kind, field="kind")
    value = normalize_identity_value(kind, value)
    if kind == Identity.Kind.SOURCE_ID and source is None:
        raise KervanError(_("A store customer id needs its source."), "missing_source", field="source")
    identity = _claim_identity(customer, kind, value, source if kind == Identity.Kind.SOURCE_ID else None)
    audit_identity_added(actor=actor, customer=customer, kind=kind, value=value)
    return identity


def audit_identity_added(*, actor: Actor, customer: Customer, kind: str, value: str) -> None:
    """The audit row of a new identifier on a customer (identity_add, identify)."""
    audit(
        actor=actor,
        action="update",
        obj=customer,
        customer_id=customer.pk,
        changes={"identity": [None, f"{kind}:{value}"]},
    )


def normalize_identity_value(kind: str, value: str) -> str:
    """The value an identity of `kind` holds: an email's mailbox key, an E.164 phone, an id trimmed."""
    if kind == Identity.Kind.EMAIL:
        return email_match_key(value)
    if kind == Identity.Kind.PHONE:
        return normalize_phone(value)
    value = str(value or "").strip()
    if not value or len(value) > 254:
        raise KervanError(_("%(kind)s must be 1–254 characters.") % {"kind": kind}, "invalid_identity", field="value")
    return value


@transaction.atomic
def customer_merge(*, actor: Actor, survivor: Customer, merged: Customer) -> CustomerMerge:
    """Merge `merged` into `survivor`: identities, consents, notes, stats and every row another app registered
    (orders, events, …) move; nothing is lost.

    The merged profile is kept (merged_into set) with a snapshot, and the merge appears on the survivor's timeline.
    Empty survivor fields are filled from the merged profile; where both have a value, the survivor's wins.
    """
    if survivor.pk == merged.pk:
        raise KervanError(_("A customer cannot be merged into itself."), "same_customer")
    # Both rows locked in id order, as every writer that locks two customers must, so two merges never deadlock.
    locked = {
        c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=(survivor.pk, merged.pk)).order_by("pk")
    }
    survivor, merged = locked[survivor.pk], locked[merged.pk]
    if survivor.merged_into_id or merged.merged_into_id:
        raise Conflict(_("One of these customers has already been merged."), "already_merged")
    snapshot = {f: str(getattr(merged, f) or "") for f in PROFILE_FIELDS}
    snapshot["id"] = merged.pk
    snapshot["custom_fields"] = merged.custom_fields
    snapshot["tags"] = list(merged.tags.values_list("name", flat=True))

    filled = {}
    for name in PROFILE_FIELDS:
        if not getattr(survivor, name) and getattr(merged, name):
            filled[name] = [getattr(survivor, name), getattr(merged, name)]
            setattr(survivor, name, getattr(merged, name))
    survivor.custom_fields = {**merged.custom_fields, **survivor.custom_fields}
    Identity.objects.filter(customer=merged).update(customer=survivor)
    survivor.tags.add(*merged.tags.all())
    CustomerNote.objects.filter(customer=merged).update(customer=survivor)
    ConsentRecord.objects.filter(customer=merged).update(customer=survivor)
    for reassign in merge_handlers().values():  # the rows other apps own (orders, events, …): registry.py
        reassign(from_customer_id=merged.pk, to_customer_id=survivor.pk)
    stats_merge(survivor_id=survivor.pk, merged_id=merged.pk)
    _refresh_keys(survivor)
    survivor.save()
    # From the ledger as it is now, whichever profile held each record, for the survivor's (maybe filled-in) address.
    consent_cache_refresh(survivor)
    merged.merged_into = survivor
    merged.save(update_fields=["merged_into", "updated_at"])
    # Profiles merged into `merged` before now point at the survivor too: merged_into always names a survivor, so one
    # step from any id reaches the profile that holds the person's data (identity look-ups rely on it).
    Customer.objects.filter(merged_into=merged).update(merged_into=survivor)
    record = CustomerMerge.objects.create(survivor=survivor, merged=merged, actor=actor.user, snapshot=snapshot)
    audit(
        actor=actor,
        action="merge",
        obj=survivor,
        customer_id=survivor.pk,
        changes={"merged_customer": [merged.pk, survivor.pk], **filled},
    )
    audit(actor=actor, action="merge", obj=merged, customer_id=merged.pk, changes={"merged_into": [None, survivor.pk]})
    emit(
        "customer.merged", event_id=f"merge:{record.pk}", data={"customer": _outbound(survivor), "merged_id": merged.pk}
    )
    return record


def _outbound(customer: Customer) -> dict:
    """A customer as outgoing webhooks show it (kervan.core.outgoing)."""
    fields = ("first_name", "last_name", "email", "phone", "city", "country", "language", "created_at")
    return {"id": customer.pk, **{name: getattr(customer, name) for name in fields}}


def customer_for_update(customer_id: int) -> Customer:
    """Inside a transaction: the profile that holds `customer_id`'s data now (itself, or the survivor it was merged
    into), its row locked. A write that names a customer by id (an order, a consent) calls this first, so it lands on
    the survivor and serialises with a merge of the same person: the merge locks both rows, the write waits, then
    reads where the merge put the person.

    The survivor is found without locks and only it is locked, so a write for a long-merged id never holds the
    merged-away row (which a later merge of the survivor re-points) while it waits for the survivor."""
    try:
        target = Customer.objects.values_list("merged_into_id", flat=True).get(pk=customer_id) or customer_id
        while True:
            customer = Customer.objects.select_for_update().get(pk=target)
            if not customer.merged_into_id:
                return customer
            target = customer.merged_into_id  # merged while we waited for its lock: follow it
    except (Customer.DoesNotExist, ValueError, TypeError):
        raise NotFound(
            _("Customer %(customer_id)s does not exist.") % {"customer_id": customer_id}, "customer_not_found"
        )
