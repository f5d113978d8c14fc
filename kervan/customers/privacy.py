"""A person's rights over their data (KVKK md. 11, GDPR art. 15 and 17): a copy of everything Kervan holds about
them, and the erasure of what identifies them.

The customer core exports and erases its own rows (profile, identities, tags, consent, notes, merges, the audit
log); every app above it (orders, events, messages, reviews …) does its part through the PrivacyHandler it
registered (kervan.customers.registry), so this module never imports them.

Erasure is an anonymisation, not a deletion: the shop must keep its books (KVKK md. 28, VUK md. 253: ten years), so
orders, their lines and amounts stay and revenue reports do not change; the customer row stays for them, emptied,
with `anonymised_at` set and the tag "anonymised". Everything that could lead back to the person goes: name, email,
phone, birth date, gender, city, custom fields, every identity (store ids and visitor ids too), notes, event
properties, message addresses, push subscriptions. The erased values are not kept anywhere, the audit log included.
"""

import datetime as dt
import hashlib
import hmac
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.audit import ERASED, audit, audit_redact
from kervan.core.errors import KervanError
from kervan.core.models import Source
from kervan.customers.actions import customer_for_update
from kervan.customers.consent_state import consent_caches_refresh
from kervan.customers.models import ConsentRecord, Customer, CustomerMerge, CustomerNote, Identity, Tag
from kervan.customers.profile import PROFILE_FIELDS
from kervan.customers.registry import PrivacySubject, privacy_handlers

ANONYMISED_TAG = "anonymised"
REASON_MAX = 500
EXPORT_FORMAT = "kervan.personal-data/1"
# What an anonymised profile keeps of its own fields: none of them identifies a person on its own, and the shop's
# country and language reports still count the customer.
KEPT_FIELDS = ("country", "language", "time_zone")
ERASED_FIELDS = tuple(f for f in PROFILE_FIELDS if f not in KEPT_FIELDS)


def customer_data_export(*, actor: Actor, customer: Customer) -> dict:
    """Everything Kervan holds about the person `customer` is (with every profile merged into it), as JSON-ready
    data: Decimals as strings, dates and times in ISO 8601. Audited as an export."""
    actor.require("privacy", "read")
    survivor = _survivor(customer)
    profiles = _profiles(survivor)
    subject = _subject(profiles)
    ids = subject.customer_ids
    data: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": clock.now(),
        "customer": _profile(survivor),
        "merged_profiles": [_profile(p) for p in profiles[1:]],
        "identities": [
            {
                "kind": i.kind,
                "value": i.value,
                "source": i.source.name if i.source else None,
                "created_at": i.created_at,
            }
            for i in Identity.objects.filter(customer_id__in=ids).select_related("source").order_by("id")
        ],
        "consents": list(
            ConsentRecord.objects.filter(customer_id__in=ids)
            .order_by("occurred_at", "id")
            .values(
                "channel",
                "purpose",
                "status",
                "address",
                "source",
                "proof",
                "occurred_at",
                "recorded_at",
                "iys_channel",
                "iys_status",
                "iys_source",
                "iys_recipient_type",
            )
        ),
        "notes": list(
            CustomerNote.objects.filter(customer_id__in=ids).order_by("created_at", "id").values("body", "created_at")
        ),
        "merges": list(
            CustomerMerge.objects.filter(Q(survivor_id__in=ids) | Q(merged_id__in=ids))
            .order_by("occurred_at", "id")
            .values("survivor_id", "merged_id", "occurred_at", "snapshot")
        ),
    }
    for handler in privacy_handlers():
        data.update(handler.export(subject))
    audit(
        actor=actor,
        action="export",
        obj=survivor,
        customer_id=survivor.pk,
        changes={"personal_data_export": sorted(data)},
    )
    return _jsonable(data)


@transaction.atomic
def customer_anonymise(*, actor: Actor, customer: Customer, reason: str) -> Customer:
    """Erase what identifies the person `customer` is (and every profile merged into it), keeping the shop's
    accounting: see the module. A second call changes nothing. Audited with the names of what was erased and the
    reason, never the erased values."""
    actor.require("privacy", "write")
    reason = (reason or "").replace("\x00", "").strip()
    if not reason:
        raise KervanError(_("Say why this customer's data is erased."), "missing_reason", field="reason")
    if len(reason) > REASON_MAX:
        raise KervanError(
            _("The reason can be at most %(count)s characters.") % {"count": REASON_MAX}, "too_long", field="reason"
        )
    survivor = customer_for_update(customer.pk)  # locked: a merge or an order of this person waits for us
    profiles = _profiles(survivor, lock=True)
    subject = _subject(profiles)
    erased = _erase_core(profiles, subject)
    for handler in privacy_handlers():
        erased += handler.anonymise(subject)
    erased += audit_redact(customer_ids=subject.customer_ids)
    if not erased:
        return survivor  # already anonymised and nothing new arrived since: nothing to do, nothing to audit
    for value in subject.values:  # staff may have named the person in the reason
        reason = reason.replace(value, ERASED)
    audit(
        actor=actor,
        action="delete",
        obj=survivor,
        customer_id=survivor.pk,
        changes={
            "anonymised": {"reason": reason, "profiles": list(subject.customer_ids), "erased": sorted(set(erased))}
        },
    )
    survivor.refresh_from_db()
    return survivor


def customers_anonymise_all(*, actor: Actor, source: Source, reason: str) -> int:
    """Anonymise every customer known only through `source` (a store removed from Kervan, Shopify's shop/redact):
    each has a store customer id from that source and none from another. A customer also known from another store,
    or only by their email or phone, is the business's customer beyond that store and is kept. Returns how many
    were anonymised now; each is its own transaction, so a long run that stops can simply run again."""
    actor.require("privacy", "write")
    elsewhere = Identity.objects.filter(kind=Identity.Kind.SOURCE_ID).exclude(source=source)
    ids = (
        Customer.objects.active()
        .filter(identities__kind=Identity.Kind.SOURCE_ID, identities__source=source)
        .exclude(pk__in=elsewhere.values("customer_id"))
        .values_list("pk", flat=True)
        .distinct()
        .order_by("pk")
    )
    # An anonymised customer has no identities left, so a second run finds no one and changes nothing.
    ids = list(ids)
    for pk in ids:
        customer_anonymise(actor=actor, customer=Customer(pk=pk), reason=reason)
    return len(ids)


def consent_address_digest(address: str) -> str:
    """What an erased consent record keeps of its address: a keyed hash. The record itself stays (the shop must
    prove to İYS and the KVKK board that it had consent for what it sent, and when it was withdrawn); the address
    goes, but if the person later asks "did you have my consent for this number?", hashing that number again with the
    shop's key finds the record. Keyed (HMAC with SECRET_KEY), because a plain hash of a phone number is reversed by
    trying every number. It never matches a real address, so the erased records decide nothing about consent."""
    if not address or address.startswith("erased:"):
        return address
    digest = hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()
    return f"erased:{digest[:32]}"


def _erase_core(profiles: list[Customer], subject: PrivacySubject) -> list[str]:
    """The customer core's own rows; returns the names of the fields it changed."""
    ids = subject.customer_ids
    erased: list[str] = []
    now = clock.now()
    tag, _created = Tag.objects.get_or_create(name=ANONYMISED_TAG)
    blank = {f: Customer._meta.get_field(f).get_default() for f in ERASED_FIELDS}
    blank.update(custom_fields={}, search_key="", name_key="", email_key="")
    for profile in profiles:
        changed = [f for f, v in blank.items() if getattr(profile, f) != v]
        if profile.anonymised_at is None:
            changed.append("anonymised_at")
            profile.anonymised_at = now
        for name in changed:
            if name != "anonymised_at":
                setattr(profile, name, blank[name])
        if changed:
            profile.save(update_fields=[*changed, "updated_at"])
            erased += [f"customers.Customer.{f}" for f in changed]
        if set(profile.tags.values_list("name", flat=True)) != {ANONYMISED_TAG}:
            profile.tags.set([tag])
            erased.append("customers.Customer.tags")
    if Identity.objects.filter(customer_id__in=ids).delete()[0]:
        erased.append("customers.Identity")
    if CustomerNote.objects.filter(customer_id__in=ids).delete()[0]:
        erased.append("customers.CustomerNote")
    merges = CustomerMerge.objects.filter(Q(survivor_id__in=ids) | Q(merged_id__in=ids))
    for merge in merges.exclude(snapshot__has_key="erased"):  # a merge's snapshot is the merged profile as it was
        merge.snapshot = {"id": merge.merged_id, "erased": True}
        merge.save(update_fields=["snapshot"])
        erased.append("customers.CustomerMerge.snapshot")
    erased += _erase_consent_addresses(subject)
    consent_caches_refresh(ids)
    return erased


def _erase_consent_addresses(subject: PrivacySubject) -> list[str]:
    """Consent records stay (the proof that consent existed, see consent_address_digest) without the address; a
    proof text that names the person loses those words."""
    erased = []
    for record in ConsentRecord.objects.filter(customer_id__in=subject.customer_ids):
        address = consent_address_digest(record.address)
        proof = _scrub(record.proof, subject.values)
        if (address, proof) != (record.address, record.proof):
            if address != record.address:
                erased.append("customers.ConsentRecord.address")
            if proof != record.proof:
                erased.append("customers.ConsentRecord.proof")
            record.address, record.proof = address, proof
            record.save(update_fields=["address", "proof"])
    return erased


def _scrub(text: str, values: tuple[str, ...]) -> str:
    for value in values:
        if value and value in text:
            text = text.replace(value, ERASED)
    return text


def _survivor(customer: Customer) -> Customer:
    survivor = Customer.objects.select_related("source").get(pk=customer.pk)
    if survivor.merged_into_id:  # one step: a merge re-points earlier merges at its survivor
        survivor = Customer.objects.select_related("source").get(pk=survivor.merged_into_id)
    return survivor


def _profiles(survivor: Customer, *, lock: bool = False) -> list[Customer]:
    """The survivor first, then every profile merged into it (merged_into always names the survivor)."""
    merged = Customer.objects.filter(merged_into=survivor).order_by("pk")
    if lock:
        merged = merged.select_for_update()
    return [survivor, *merged]


def _subject(profiles: list[Customer]) -> PrivacySubject:
    ids = tuple(p.pk for p in profiles)
    identities = list(Identity.objects.filter(customer_id__in=ids).values_list("kind", "value"))
    values: set[str] = set()
    for p in profiles:
        values.update(str(getattr(p, f) or "") for f in ("first_name", "last_name", "email", "phone", "email_key"))
        values.add(p.full_name)
        values.update(str(v) for v in p.custom_fields.values() if isinstance(v, str))
    values.update(v for kind, v in identities if kind in (Identity.Kind.EMAIL, Identity.Kind.PHONE))
    # The longest first, so "Ayşe Yılmaz" is replaced whole before "Ayşe"; short values (a one-letter name, "1")
    # would erase unrelated words of a kept text.
    kept = sorted((v for v in values if len(v) >= 3), key=lambda v: (-len(v), v))
    return PrivacySubject(
        customer_ids=ids,
        anonymous_ids=tuple(sorted(v for kind, v in identities if kind == Identity.Kind.ANONYMOUS)),
        values=tuple(kept),
    )


def _profile(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.pk,
        **{f: getattr(customer, f) for f in PROFILE_FIELDS},
        "custom_fields": customer.custom_fields,
        "tags": sorted(customer.tags.values_list("name", flat=True)),
        "source": customer.source.name if customer.source_id else None,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        "anonymised_at": customer.anonymised_at,
        "merged_into": customer.merged_into_id,
        "consent": {f"consent_{c}": getattr(customer, f"consent_{c}") for c in ConsentRecord.Channel.values},
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
