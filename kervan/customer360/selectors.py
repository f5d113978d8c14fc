"""The 360's header read on a first view (nothing cached): the same facts as customers.selectors.customer_get +
customer_360, through statements compiled once per process (kervan.customer360.compiled)."""

from django.db.models import Q, Subquery

from kervan.accounts.actors import Actor
from kervan.customer360.compiled import Statement
from kervan.customers import selectors
from kervan.customers.consent_state import ADDRESS_FIELD, LATEST_FIRST, Channel, Purpose, consent_address
from kervan.customers.models import ConsentRecord, Customer, CustomerStats, Identity, Tag

_customer = Statement(lambda customer_id: Customer.objects.select_related("stats").filter(pk=customer_id))
_tags = Statement(lambda customer_id: Tag.objects.filter(customers=customer_id).values_list("name", flat=True))
_identities = Statement(
    lambda customer_id: (
        Identity.objects.filter(customer_id=customer_id).select_related("source").order_by("kind", "value")
    )
)


def _deciding_consents(customer_id: int, email: str, phone: str):
    """customers.consent_state.consent_latest's query, with the addresses as values: the record that decides per
    channel and purpose, one sub-select each."""
    addresses = {"email": email, "phone": phone}
    deciding = Q()
    for channel in Channel.values:
        for purpose in Purpose.values:
            records = ConsentRecord.objects.filter(customer_id=customer_id, channel=channel, purpose=purpose)
            field = ADDRESS_FIELD[channel]
            if field is not None:
                records = records.filter(address=addresses[field])
            deciding |= Q(pk=Subquery(records.order_by(*LATEST_FIRST).values("pk")[:1]))
    return ConsentRecord.objects.filter(deciding)


_consents = Statement(_deciding_consents)


def customer_360_read(*, actor: Actor, customer_id: int) -> tuple[Customer, selectors.Customer360 | None]:
    """customer_get then customer_360: the profile holding `customer_id`'s data and its 360 header, or (the
    survivor, None) when `customer_id` was merged away. Raises NotFound like customer_get."""
    rows = actor.scope("customers", Customer.objects.all())
    found = list(_customer(customer_id=customer_id)) if not rows.query.where and type(customer_id) is int else []
    if not found or found[0].merged_into_id:  # merged away, missing, or a narrowed scope: the general read
        customer = selectors.customer_get(actor=actor, customer_id=customer_id)
        if customer.pk != customer_id:
            return customer, None
    else:
        customer = found[0]
    return customer, customer_360(actor=actor, customer=customer)


def customer_360(*, actor: Actor, customer: Customer) -> selectors.Customer360:
    """customers.selectors.customer_360 through compiled statements."""
    actor.require("customers", "read")
    stats = getattr(customer, "stats", None) or CustomerStats(customer=customer)
    email, phone = consent_address(customer, "email"), consent_address(customer, "sms")
    found = {(r.channel, r.purpose): r for r in _consents(customer_id=customer.pk, email=email, phone=phone)}
    return selectors.Customer360(
        customer=customer,
        stats=stats,
        tags=sorted(_tags(customer_id=customer.pk)),
        identities=list(_identities(customer_id=customer.pk)),
        consents={
            channel: {purpose: found.get((channel, purpose)) for purpose in Purpose.values}
            for channel in Channel.values
        },
    )
