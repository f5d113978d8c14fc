"""The consent ledger: append a record, keep the per-channel marketing cache on the customer in step."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.audit import audit
from kervan.core.errors import KervanError, check_choice
from kervan.core.outgoing import emit
from kervan.customers.actions import customer_for_update
from kervan.customers.consent_state import consent_address, consent_cache_refresh, normalize_consent_address
from kervan.customers.models import ConsentRecord, Customer


@transaction.atomic
def consent_record(
    *,
    actor: Actor,
    customer: Customer,
    channel: str,
    status: str,
    purpose: str = ConsentRecord.Purpose.MARKETING,
    source: str = "",
    proof: str = "",
    occurred_at=None,
    iys_source: str = "",
    recipient_type: str = ConsentRecord.RecipientType.INDIVIDUAL,
    address: str = "",
) -> ConsentRecord:
    """Append a consent record for `address` (normalised; by default the customer's address for the channel now).

    The customer's cached marketing consent is then recomputed from the ledger (consent_state), so a late-arriving
    older record is kept but does not overturn a newer decision, and a record for another address does not change
    what we may send to the customer's own."""
    check_choice(channel, ConsentRecord.Channel, field="channel")
    check_choice(status, ConsentRecord.Status, field="status")
    check_choice(purpose, ConsentRecord.Purpose, field="purpose")
    check_choice(recipient_type, ConsentRecord.RecipientType, field="recipient_type")
    if iys_source:
        check_choice(iys_source, ConsentRecord.IysSource, field="iys_source")
    occurred_at = occurred_at or clock.now()
    if timezone.is_naive(occurred_at):
        raise KervanError(_("occurred_at needs a time zone."), "naive_datetime", field="occurred_at")
    if occurred_at > clock.now() + timezone.timedelta(minutes=5):
        raise KervanError(_("occurred_at is in the future."), "future_datetime", field="occurred_at")
    # The row, locked and as it is now: writers of one customer's consent take turns, and the address below is the
    # customer's current one, not that of a caller's stale copy. A merged-away profile's consent goes to its survivor.
    customer = customer_for_update(customer.pk)
    if address:
        address = normalize_consent_address(channel, address)
    else:
        address = consent_address(customer, channel)
    record = ConsentRecord.objects.create(
        customer=customer,
        channel=channel,
        purpose=purpose,
        status=status,
        source=(source or "")[:100],
        proof=proof or "",
        occurred_at=occurred_at,
        actor=actor.user,
        address=address,
        iys_channel=ConsentRecord.IYS_CHANNEL[channel],
        iys_status="ONAY" if status == ConsentRecord.Status.GRANTED else "RET",
        iys_source=iys_source,
        iys_recipient_type=recipient_type,
    )
    if purpose == ConsentRecord.Purpose.MARKETING:
        consent_cache_refresh(customer)
    audit(
        actor=actor,
        action="create",
        obj=record,
        customer_id=customer.pk,
        changes={f"consent.{channel}.{purpose}": [None, status]},
    )
    data = {"customer_id": customer.pk, "channel": channel, "purpose": purpose, "status": status}
    emit("consent.changed", event_id=f"consent:{record.pk}", data={**data, "source": record.source, "at": occurred_at})
    return record
