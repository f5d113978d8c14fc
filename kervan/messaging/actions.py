"""Every write of messaging: templates and senders, the outbox, suppression, and what comes back (opens, clicks,
unsubscribes, bounces, delivery reports, SMS replies). What happens to a customer lands on their timeline as the
canonical events (Received Email, Opened Email, Clicked Email, Bounced Email, Unsubscribed, Received SMS)."""

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.audit import audit
from kervan.core.emails import email_match_key
from kervan.core.errors import KervanError, check_choice
from kervan.core.phones import normalize_phone
from kervan.customers.consent import consent_record
from kervan.customers.consent_state import normalize_consent_address
from kervan.customers.models import ConsentRecord, Customer
from kervan.events.actions import event_record, events_record_many
from kervan.messaging.context import specimen_context
from kervan.messaging.models import (
    Channel,
    Message,
    Policy,
    Purpose,
    SenderIdentity,
    Suppression,
    Template,
    Topic,
    TopicOptOut,
)
from kervan.messaging.rendering import TemplateProblem, compile_template

SOFT_BOUNCE_LIMIT = 3  # temporary failures within SOFT_BOUNCE_DAYS that suppress an address
SOFT_BOUNCE_DAYS = 30
OPT_OUT_WORDS = frozenset({"RET", "STOP", "IPTAL", "İPTAL", "UNSUBSCRIBE", "DUR"})
EVENT_NAMES = {
    "email": {"sent": "Received Email", "open": "Opened Email", "click": "Clicked Email", "bounce": "Bounced Email"},
    "sms": {"sent": "Received SMS", "click": "Clicked SMS", "bounce": "Bounced SMS"},
    "push": {"sent": "Received Push", "open": "Opened Push", "click": "Clicked Push"},
}


def template_save(
    *,
    actor: Actor,
    name: str,
    channel: str,
    purpose: str,
    content: dict,
    editor: str = Template.Editor.HTML,
    blocks: dict | None = None,
    strict: bool = False,
    topic: Topic | None = None,
    template: Template | None = None,
) -> Template:
    """Create or change a template. It must render: a syntax error, a forbidden lookup or empty content is refused
    with the reason, and nothing is saved."""
    actor.require("messaging", "write")
    check_choice(channel, Channel, field="channel")
    check_choice(purpose, Purpose, field="purpose")
    if not name.strip():
        raise KervanError(_("A template needs a name."), "invalid", field="name")
    try:
        compiled = compile_template(Template(content=content, strict=strict))
        if strict:  # rendered once with every variable there is: an unknown one is refused now
            for language in compiled.parts:
                compiled.render(language, specimen_context(), inline_css=False)
    except TemplateProblem as problem:
        raise KervanError(str(problem), "template_invalid", field="content") from problem
    created = template is None
    template = template or Template(created_by_id=actor.user_id)
    template.strict, template.topic = strict, topic
    template.name, template.channel, template.purpose = name.strip(), channel, purpose
    template.content, template.editor, template.blocks = content, editor, blocks or {}
    template.save()
    audit(actor=actor, action="create" if created else "update", obj=template, changes={"name": template.name})
    return template


def sender_save(
    *, actor: Actor, channel: str, address: str, name: str = "", reply_to: str = "", is_default: bool = True
) -> SenderIdentity:
    actor.require("messaging", "write")
    check_choice(channel, Channel, field="channel")
    address = address.strip()
    if channel == "email":
        from kervan.core.emails import normalize_email

        address = normalize_email(address, field="address")
        if reply_to:
            reply_to = normalize_email(reply_to, field="reply_to")
    elif not address or len(address) > 11 and not address.startswith("+"):
        # An SMS originator is an approved header of at most 11 characters, or a phone number.
        raise KervanError(_("An SMS originator is at most 11 characters, or a phone number."), field="address")
    with transaction.atomic():
        if is_default:
            SenderIdentity.objects.filter(channel=channel, is_default=True).update(is_default=False)
        sender = SenderIdentity.objects.create(
            channel=channel, address=address, name=name.strip(), reply_to=reply_to, is_default=is_default
        )
        audit(actor=actor, action="create", obj=sender, changes={"address": address})
    return sender


def messages_enqueue(
    *,
    origin: str,
    customer_ids: Iterable[int],
    channel: str,
    purpose: str,
    template: Template,
    sender: SenderIdentity | None = None,
    due_at: dt.datetime | None = None,
    variant: str = "",
    due_for: dict[int, dt.datetime] | None = None,
) -> int:
    """Queue one message per customer for `origin`; a customer who already has one for it is left as they are (so
    queueing twice sends once). `due_for` gives some customers their own time (local-time sends, throttling).
    Returns how many were queued now."""
    now = clock.now()
    rows = [
        Message(
            origin=origin,
            customer_id=customer_id,
            channel=channel,
            purpose=purpose,
            template=template,
            sender=sender,
            variant=variant,
            due_at=(due_for or {}).get(customer_id) or due_at or now,
        )
        for customer_id in customer_ids
    ]
    before = Message.objects.filter(origin=origin).count()
    messages_queue(rows)
    return Message.objects.filter(origin=origin).count() - before


def messages_queue(messages: list[Message]) -> None:
    """Queue built messages (each with its own origin, as a flow's steps make them); one already queued for its
    origin and customer is left as it is, so queueing again after a retry sends once."""
    Message.objects.bulk_create(messages, batch_size=2000, ignore_conflicts=True)


def suppression_add(*, actor: Actor, channel: str, address: str, reason: str, note: str = "") -> Suppression:
    """Suppress an address (normalised as consent names it). Already suppressed: a sticky reason (hard bounce,
    complaint) replaces a liftable one, never the other way round."""
    actor.require("messaging", "write")
    check_choice(channel, Channel, field="channel")
    check_choice(reason, Suppression.Reason, field="reason")
    key = normalize_consent_address(channel, address)  # as consent names it: one mailbox, one E.164 number
    found = Suppression.objects.filter(channel=channel, address=key).first()
    if found is not None:
        if reason in Suppression.STICKY and found.reason not in Suppression.STICKY:
            found.reason, found.note = reason, note[:500]
            found.save(update_fields=["reason", "note", "updated_at"])
        return found
    suppression = Suppression.objects.create(channel=channel, address=key, reason=reason, note=note[:500])
    audit(actor=actor, action="create", obj=suppression, changes={"address": key, "reason": reason})
    return suppression


def suppression_lift(*, actor: Actor, suppression: Suppression, by_customer: bool = False) -> None:
    """Take an address off the list. A customer subscribing again lifts only what they caused (an unsubscribe-style
    reason); a hard bounce or a complaint only staff can lift."""
    actor.require("messaging", "write")
    if by_customer and suppression.reason in Suppression.STICKY:
        raise KervanError(
            _("This address bounced or complained: only staff can send to it again."), "suppression_sticky"
        )
    audit(actor=actor, action="delete", obj=suppression, changes={"address": suppression.address})
    suppression.delete()


def opt_out(*, customer: Customer, channel: str, source: str, message: Message | None = None) -> None:
    """The customer asked for no more marketing on `channel` (an unsubscribe link, List-Unsubscribe, a "RET" reply,
    the preference centre): written to the consent ledger at once, with where it came from."""
    now = clock.now()
    with transaction.atomic():
        consent_record(
            actor=Actor.system(),
            customer=customer,
            channel=channel,
            status=ConsentRecord.Status.REFUSED,
            source=source,
            occurred_at=now,
            iys_source=ConsentRecord.IysSource.MESSAGE if channel == "sms" else ConsentRecord.IysSource.EMAIL,
        )
        if message is not None and message.unsubscribed_at is None:
            Message.objects.filter(pk=message.pk).update(unsubscribed_at=now)
        event_record(
            name="Unsubscribed",
            occurred_at=now,
            dedupe_key=f"unsubscribed:{message.pk}" if message else f"unsubscribed:{customer.pk}:{channel}:{now}",
            customer_id=customer.pk,
            properties={"channel": channel, "source": source, **({"origin": message.origin} if message else {})},
        )


def message_opened(*, message: Message, machine: bool) -> None:
    """An open pixel was fetched. A prefetching proxy or a scanner counts apart and opens nothing."""
    now = clock.now()
    if machine:
        Message.objects.filter(pk=message.pk).update(machine_opens=F("machine_opens") + 1)
        return
    with transaction.atomic():
        first = Message.objects.filter(pk=message.pk, opened_at__isnull=True).update(opened_at=now)
        Message.objects.filter(pk=message.pk).update(opens=F("opens") + 1)
        if first:
            message_event(message, "open", now)


def message_clicked(*, message: Message, url: str) -> None:
    now = clock.now()
    with transaction.atomic():
        first = Message.objects.filter(pk=message.pk, clicked_at__isnull=True).update(clicked_at=now)
        Message.objects.filter(pk=message.pk, opened_at__isnull=True).update(opened_at=now)  # a click is an open
        Message.objects.filter(pk=message.pk).update(clicks=F("clicks") + 1)
        if first:
            message_event(message, "click", now, url=url)


def bounce_record(*, address: str, permanent: bool, source: str, message_key: str = "", trusted: bool = False) -> str:
    """A bounce came back for `address`: permanent → suppressed (hard bounce); temporary → counted, and suppressed
    after SOFT_BOUNCE_LIMIT within SOFT_BOUNCE_DAYS. The message it answers (X-Kervan-Message), if known, is marked.
    Returns "suppressed", "counted" or "unknown".

    A bounce must answer a message we sent to that address: anyone can send a DSN to the bounce receiver, and a
    forged one must not silence a customer. Only `trusted` bounces (staff importing a bounce mailbox) suppress an
    address no message went to."""
    try:
        key = email_match_key(address, field="address")
    except KervanError:
        return "unknown"
    now = clock.now()
    message = _message_by_key(message_key)
    if message is not None and _mailbox(message.to_address) != key:
        message = None  # the key names a message that went elsewhere: not an answer to ours for this address
    if message is None:
        message = (
            Message.objects.filter(channel="email", customer__email_key=key, status=Message.Status.SENT)
            .order_by("-sent_at")
            .first()
        )
    with transaction.atomic():
        if message is not None and message.bounced_at is None:
            Message.objects.filter(pk=message.pk).update(bounced_at=now)
            message_event(message, "bounce", now, permanent=permanent, source=source)
        if message is None and not trusted:
            return "unknown"
        if permanent:
            suppression_add(actor=Actor.system(), channel="email", address=key, reason="hard_bounce", note=source)
            return "suppressed"
        if message is None:
            return "unknown"
        recent = Message.objects.filter(
            channel="email", customer__email_key=key, bounced_at__gte=now - dt.timedelta(days=SOFT_BOUNCE_DAYS)
        ).count()
        if recent >= SOFT_BOUNCE_LIMIT:
            suppression_add(actor=Actor.system(), channel="email", address=key, reason="soft_bounces", note=source)
            return "suppressed"
        return "counted"


def message_delivery_update(
    *, channel: str, provider_id: str, delivered: bool, error: str = "", permanent: bool = False
) -> bool:
    """A provider's delivery report. Idempotent: a report repeated changes nothing. False if no message has that id."""
    message = Message.objects.filter(channel=channel, provider_id=provider_id).exclude(provider_id="").first()
    if message is None:
        return False
    now = clock.now()
    if delivered:
        Message.objects.filter(pk=message.pk, delivered_at__isnull=True).update(delivered_at=now)
        return True
    with transaction.atomic():
        if message.bounced_at is None:
            Message.objects.filter(pk=message.pk).update(bounced_at=now, error=error[:2000])
            message_event(message, "bounce", now, permanent=permanent, error=error)
        if permanent and message.to_address:
            suppression_add(
                actor=Actor.system(), channel=channel, address=message.to_address, reason="invalid", note=error
            )
    return True


def sms_inbound(*, phone: str, text: str, source: str) -> bool:
    """An SMS reply. "RET" (İYS's word), "STOP" and the like opt the sender's number out of marketing SMS. True if
    it did."""
    words = text.strip().upper().replace("İ", "I").split()
    if not words or words[0] not in {w.replace("İ", "I") for w in OPT_OUT_WORDS}:
        return False
    try:
        number = normalize_phone(phone, field="phone")
    except KervanError:
        return False
    customers = list(Customer.objects.filter(phone=number, merged_into__isnull=True))
    for customer in customers:
        opt_out(customer=customer, channel="sms", source=source)
    return bool(customers)


def message_event(message: Message, kind: str, at: dt.datetime, **properties: object) -> None:
    row = message_event_row(message, kind, at, **properties)
    if row is not None:
        events_record_many([row])


def message_event_row(message: Message, kind: str, at: dt.datetime, **properties: object) -> dict | None:
    """The canonical event for what happened to `message` ("Opened Email"...), None when its channel has none."""
    name = EVENT_NAMES.get(message.channel, {}).get(kind)
    if not name:
        return None
    return {
        "name": name,
        "occurred_at": at,
        "dedupe_key": f"message:{message.pk}:{kind}",
        "customer_id": message.customer_id,
        "properties": {"origin": message.origin, "message_id": message.pk, "variant": message.variant, **properties},
    }


def _message_by_key(key: str) -> Message | None:
    prefix = "kervan-"
    if key.startswith(prefix) and key[len(prefix) :].isdigit():
        return Message.objects.filter(pk=int(key[len(prefix) :])).first()
    return None


def message_key(message: Message) -> str:
    """The name a message carries to providers (X-Kervan-Message, idempotency keys), and comes back with."""
    return f"kervan-{message.pk}"


def _mailbox(address: str) -> str:
    try:
        return email_match_key(address, field="address") if address else ""
    except KervanError:
        return ""


def policy_update(*, actor: Actor, policy: Policy, values) -> Policy:  # noqa: ANN001 - a mapping (a form's POST)
    """Change the caps and quiet hours. Every value is checked before any is saved."""
    actor.require("messaging", "write")
    changes: dict[str, object] = {}
    for channel in ("email", "sms", "push"):
        for field, low, high in ((f"{channel}_cap", 0, 100), (f"{channel}_cap_hours", 1, 24 * 30)):
            raw = str(values.get(field, getattr(policy, field))).strip()
            if not raw.isdigit() or not low <= int(raw) <= high:
                raise KervanError(
                    _("%(field)s must be a whole number from %(low)s to %(high)s.")
                    % {"field": field, "low": low, "high": high},
                    field=field,
                )
            changes[field] = int(raw)
    for field in ("quiet_start", "quiet_end"):
        raw = str(values.get(field, getattr(policy, field))).strip()
        try:
            changes[field] = dt.time.fromisoformat(raw)
        except ValueError as exc:
            raise KervanError(_("Give the time as HH:MM."), field=field) from exc
    with transaction.atomic():
        for field, value in changes.items():
            setattr(policy, field, value)
        policy.save()
        audit(actor=actor, action="update", obj=policy, changes={k: str(v) for k, v in changes.items()})
    return policy


def complaint_record(*, message: Message, source: str) -> None:
    """The recipient marked the message as spam: never send to the address again (a sticky suppression) and record
    the refusal in the consent ledger."""
    with transaction.atomic():
        if message.to_address:
            suppression_add(
                actor=Actor.system(),
                channel=message.channel,
                address=message.to_address,
                reason="complaint",
                note=source,
            )
        opt_out(customer=message.customer, channel=message.channel, source=source, message=message)


def messaging_reassign(*, from_customer_id: int, to_customer_id: int) -> None:
    """A merged customer's messages and browsers follow them to the surviving profile. A message of a campaign both
    profiles got stays with the merged one: the survivor keeps their own (one per campaign and customer)."""
    from kervan.messaging.models import PushSubscription

    theirs = Message.objects.filter(customer_id=to_customer_id).values("origin")
    Message.objects.filter(customer_id=from_customer_id).exclude(origin__in=theirs).update(customer_id=to_customer_id)
    PushSubscription.objects.filter(customer_id=from_customer_id).update(customer_id=to_customer_id)


def push_subscribe(
    *, endpoint: str, p256dh: str, auth: str, user_agent: str = "", anonymous_id: str = "", customer_id: int | None
) -> bool:
    """Save a browser's push subscription (the same endpoint again updates it); True when new. The visitor accepted
    our prompt and then the browser's own: for a known customer that is consent to marketing push, written to the
    ledger."""
    from kervan.messaging.models import PushSubscription

    fields: dict = {"p256dh": p256dh, "auth": auth, "user_agent": user_agent[:300]}
    if anonymous_id:
        # A new visitor id on a known browser (cookies cleared, another person) moves the subscription with it:
        # the previous customer's messages must not keep reaching whoever uses this browser now.
        fields.update(anonymous_id=anonymous_id, customer_id=customer_id)
    with transaction.atomic():
        _row, created = PushSubscription.objects.update_or_create(endpoint=endpoint, defaults=fields)
        customer = Customer.objects.filter(pk=customer_id).first() if customer_id else None
        if customer is not None and customer.consent_push != ConsentRecord.Status.GRANTED:
            consent_record(
                actor=Actor.system(),
                customer=customer,
                channel="push",
                status=ConsentRecord.Status.GRANTED,
                source="browser push subscription",
                iys_source=ConsentRecord.IysSource.WEB,
            )
    return created


def push_unsubscribe(*, endpoint: str) -> bool:
    """Forget a browser's subscription; True if there was one. A customer's last browser gone: no consent to push."""
    from kervan.messaging.models import PushSubscription

    with transaction.atomic():
        row = PushSubscription.objects.filter(endpoint=endpoint).first()
        if row is None:
            return False
        row.delete()
        customer = row.customer
        if customer is not None and not PushSubscription.objects.filter(customer=customer).exists():
            consent_record(
                actor=Actor.system(),
                customer=customer,
                channel="push",
                status=ConsentRecord.Status.REFUSED,
                source="browser push unsubscribed",
            )
    return True


def topic_save(*, actor: Actor, name_tr: str, name_en: str = "") -> Topic:
    actor.require("messaging", "write")
    if not name_tr.strip():
        raise KervanError(_("A topic needs a Turkish name."), field="name_tr")
    topic = Topic.objects.create(name_tr=name_tr.strip()[:80], name_en=name_en.strip()[:80])
    audit(actor=actor, action="create", obj=topic, changes={"name_tr": topic.name_tr})
    return topic


def topics_choose(*, customer: Customer, turned_off: Iterable[int]) -> None:
    """The topics the customer turned off in the preference centre (the others back on): at once, for every channel."""
    wanted_off = set(Topic.objects.filter(pk__in=list(turned_off)).values_list("pk", flat=True))
    with transaction.atomic():
        TopicOptOut.objects.filter(customer=customer).exclude(topic_id__in=wanted_off).delete()
        have = set(TopicOptOut.objects.filter(customer=customer).values_list("topic_id", flat=True))
        TopicOptOut.objects.bulk_create([TopicOptOut(customer=customer, topic_id=t) for t in wanted_off - have])
        audit(
            actor=Actor.system(),
            action="update",
            obj=customer,
            customer_id=customer.pk,
            changes={"topics turned off": sorted(wanted_off)},
        )
