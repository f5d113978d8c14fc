"""The outbox's worker: claim due messages, check the policy again at send time, render, send, record.

At most once: before its transport is called a message is marked as being sent (committed), so a worker killed
mid-send leaves it marked; whoever takes the row over later finds the mark and does not send it again (it is
recorded as failed, "interrupted: outcome unknown", for staff to see), because a second copy is worse than none
for a marketing message. Everything else a killed worker held is simply taken over when its lease ends.

Retryable failures go back to the queue with a growing back-off; permanent ones fail the message, and an address
the provider refused is suppressed.
"""

import datetime as dt
import json
import logging
from collections import defaultdict

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from kervan.core import clock
from kervan.core.claim import claim_due, finish, release
from kervan.customers.models import Customer
from kervan.events.actions import events_record_many
from kervan.messaging import tracking
from kervan.messaging.actions import message_event, message_event_row, message_key, suppression_add
from kervan.messaging.channels import transport_for
from kervan.messaging.channels.base import Outgoing, Sender, Transport, TransportError
from kervan.messaging.context import batch_context
from kervan.messaging.models import Message, Purpose, PushSubscription, SenderIdentity, Template
from kervan.messaging.policy import ADDRESS_FIELD, current_policy, quiet_until, with_blocked
from kervan.messaging.rendering import CompiledTemplate, TemplateProblem, compile_template

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600)  # seconds before the next try
SENDING = "sending"  # the lease holder's mark (Message.leased_by suffix) while the transport has the message
LEASE = dt.timedelta(minutes=2)
FLUSH_EVERY = 50  # sent messages recorded per transaction (see _Sent)


def deliver_due(*, worker: str, limit: int = 200, channel: str | None = None) -> dict[str, int]:
    """Send up to `limit` due messages; returns how many ended how ("sent", "skipped", "held", "failed", "retry")."""
    work = Message.objects.filter(status__in=[Message.Status.QUEUED, Message.Status.HELD])
    if channel:
        work = work.filter(channel=channel)
    claimed = claim_due(work, worker=worker, limit=limit, lease=LEASE)
    outcome: dict[str, int] = defaultdict(int)
    by_channel: dict[str, list[Message]] = defaultdict(list)
    for message in claimed:
        if message.error.startswith(SENDING):  # a worker died while its transport had this message
            finish(message, status=Message.Status.FAILED, error=_interrupted())
            outcome["failed"] += 1
        else:
            by_channel[message.channel].append(message)
    for name, messages in by_channel.items():
        with transport_for(name) as transport:
            _deliver(messages, transport, outcome)
    return dict(outcome)


def _interrupted() -> str:
    return _("Interrupted while sending: the outcome is unknown, so it is not sent again.")


def _deliver(messages: list[Message], transport: Transport, outcome: dict[str, int]) -> None:
    now = clock.now()
    policy = current_policy()
    customers = {c.pk: c for c in Customer.objects.filter(pk__in=[m.customer_id for m in messages])}
    blocked = _blocked(messages, now)
    templates = _compiled({m.template_id for m in messages})
    senders = _senders(messages)
    by_template: dict[int, list[Message]] = defaultdict(list)
    for message in messages:
        customer = customers.get(message.customer_id)
        if customer is None or customer.merged_into_id:
            finish(message, status=Message.Status.SKIPPED, skip_reason=Message.Skip.MERGED)
            outcome["skipped"] += 1
        elif reason := blocked.get(message.pk):
            finish(message, status=Message.Status.SKIPPED, skip_reason=reason)
            outcome["skipped"] += 1
        elif (opens := quiet_until(policy, message.channel, customer.time_zone, now)) is not None:
            release(message, due_at=opens, status=Message.Status.HELD)
            outcome["held"] += 1
        else:
            by_template[message.template_id].append(message)
    for template_id, group in by_template.items():
        compiled = templates[template_id]
        if isinstance(compiled, TemplateProblem):
            for message in group:
                finish(message, status=Message.Status.FAILED, error=str(compiled))
                outcome["failed"] += 1
            continue
        contexts = batch_context(group, customers, compiled.reads)
        done = _Sent()
        try:
            for message in group:
                customer = customers[message.customer_id]
                outcome[_send_one(message, customer, compiled, contexts[message.pk], senders, transport, done)] += 1
        finally:
            done.flush()


def _send_one(
    message: Message,
    customer: Customer,
    compiled: CompiledTemplate,
    context: dict,
    senders: dict,
    transport: Transport,
    done: "_Sent",
) -> str:
    links = tracking.links_for(message)
    try:
        rendered = compiled.render(customer.language, {**context, **links})
    except TemplateProblem as problem:
        finish(message, status=Message.Status.FAILED, error=str(problem))
        return "failed"
    marketing = message.purpose == Purpose.MARKETING
    own, clicks = set(links.values()), {}
    html = tracking.tracked_html(rendered.html, message, own_links=own, clicks=clicks) if rendered.html else ""
    text = tracking.tracked_text(rendered.text, message, own_links=own, clicks=clicks)
    if marketing and message.channel == "sms" and not _has_opt_out(text, links["unsubscribe_url"]):
        with translation.override(rendered.language):  # in the language the message is written in
            stop = _("To stop: reply RET")
        text = f"{text}\n{stop}"
    address = _address(message.channel, customer)
    headers = {}
    if marketing and message.channel == "email":
        # RFC 8058 one-click unsubscribe: mail clients POST to the URL without showing a page.
        headers = {
            "List-Unsubscribe": f"<{links['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    outgoing = Outgoing(
        key=message_key(message),
        to=address,
        sender=senders.get(message.sender_id) or senders.get(("default", message.channel)) or Sender(),
        subject=rendered.subject,
        html=html,
        text=text,
        headers=headers,
        marketing=marketing,
    )
    # The mark that keeps a message from going twice (see the module): committed before the transport is called.
    if not finish_mark(message):
        return "lost"  # the lease went to another worker meanwhile: it is theirs now
    try:
        sent = transport.send(outgoing)
    except TransportError as error:
        return _failed(message, error, address)
    done.add(
        message,
        status=Message.Status.SENT,
        sent_at=clock.now(),
        error="",
        provider_id=sent.provider_id[:200],
        to_address=_shown(message.channel, address),
        subject=rendered.subject[:300],
    )
    return "sent"


class _Sent:
    """Sent messages, recorded together: every FLUSH_EVERY messages (and at the end of a batch) one transaction marks
    them sent and one insert puts their "Received …" events on the timeline. Per message that was two commits and a
    stats update, more than the rendering and the SMTP conversation together. A worker killed before a flush leaves
    its last few rows marked as in the transport's hands: they are reported "outcome unknown", never sent again."""

    def __init__(self) -> None:
        self.rows: list[tuple[Message, dict]] = []

    def add(self, message: Message, **fields: object) -> None:
        self.rows.append((message, fields))
        if len(self.rows) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        with transaction.atomic():
            events = []
            for message, fields in self.rows:
                if finish(message, **fields):
                    events.append(message_event_row(message, "sent", fields["sent_at"]))
            events_record_many([e for e in events if e is not None])
        self.rows = []


def _address(channel: str, customer: Customer) -> str:
    """Where the message goes: the customer's email or phone; for push, their browsers' subscriptions (JSON list)."""
    field = ADDRESS_FIELD[channel]
    if field:
        return getattr(customer, field)
    subscriptions = PushSubscription.objects.filter(customer=customer).order_by("pk")
    return json.dumps([s.info() for s in subscriptions])


def _has_opt_out(text: str, unsubscribe_url: str) -> bool:
    """Whether a marketing SMS already tells how to stop (İYS: every one must): a RET/STOP word or the link."""
    words = set(text.upper().replace("İ", "I").split())
    return bool(words & {"RET", "STOP"}) or unsubscribe_url in text


def _shown(channel: str, address: str) -> str:
    """The address as the message row keeps it: push goes to a list of browsers, kept by count."""
    if channel == "push":
        return f"push × {len(json.loads(address or '[]'))}"
    return address[:254]


def finish_mark(message: Message) -> bool:
    """Mark the claimed row as in the transport's hands (error starts with SENDING), only while this worker holds it."""
    updated = Message.objects.filter(pk=message.pk, lease_token=message.lease_token).update(error=SENDING)
    return bool(updated)


def _failed(message: Message, error: TransportError, address: str) -> str:
    if not error.permanent and message.attempts < MAX_ATTEMPTS:
        wait = BACKOFF[min(message.attempts, len(BACKOFF)) - 1]
        release(message, due_at=error.retry_at or clock.now() + dt.timedelta(seconds=wait), error=error.reason[:2000])
        return "retry"
    with transaction.atomic():
        finish(
            message,
            status=Message.Status.FAILED,
            error=error.reason[:2000],
            to_address=_shown(message.channel, address),
        )
        if error.address_rejected and address and message.channel != "push":
            reason = "hard_bounce" if message.channel == "email" else "invalid"
            from kervan.accounts.actors import Actor

            suppression_add(actor=Actor.system(), channel=message.channel, address=address, reason=reason)
            Message.objects.filter(pk=message.pk).update(bounced_at=clock.now())
            message_event(message, "bounce", clock.now(), permanent=True, error=error.reason)
    return "failed"


def _blocked(messages: list[Message], now: dt.datetime) -> dict[int, str]:
    """message id → why it may not go, by the policy's one annotation (kervan.messaging.policy)."""
    blocked: dict[int, str] = {}
    topics = dict(Template.objects.filter(pk__in={m.template_id for m in messages}).values_list("pk", "topic_id"))
    groups: dict[tuple[str, str, int | None], list[Message]] = defaultdict(list)
    for message in messages:
        groups[(message.channel, message.purpose, topics.get(message.template_id))].append(message)
    for (channel, purpose, topic_id), group in groups.items():
        ids = [m.customer_id for m in group]
        customers = Customer.objects.filter(pk__in=ids)
        reasons = dict(
            with_blocked(customers, channel=channel, purpose=purpose, now=now, topic_id=topic_id).values_list(
                "pk", "blocked"
            )
        )
        for message in group:
            if reasons.get(message.customer_id):
                blocked[message.pk] = reasons[message.customer_id]
    return blocked


_COMPILED: dict[tuple[int, dt.datetime], CompiledTemplate | TemplateProblem] = {}


def _compiled(ids: set[int]) -> dict[int, CompiledTemplate | TemplateProblem]:
    """Templates compiled once per version in this process (a 100k campaign parses its template once)."""
    out: dict[int, CompiledTemplate | TemplateProblem] = {}
    for template in Template.objects.filter(pk__in=ids):
        key = (template.pk, template.updated_at)
        if key not in _COMPILED:
            try:
                _COMPILED[key] = compile_template(template)
            except TemplateProblem as problem:
                _COMPILED[key] = problem
        out[template.pk] = _COMPILED[key]
    return out


def _senders(messages: list[Message]) -> dict:
    found: dict = {}
    for s in SenderIdentity.objects.filter(channel__in={m.channel for m in messages}):
        sender = Sender(name=s.name, address=s.address, reply_to=s.reply_to)
        found[s.pk] = sender
        if s.is_default:
            found[("default", s.channel)] = sender
    return found


def render_for(template: Template, customer: Customer) -> tuple[str, str, str]:
    """(subject, html, text) of `template` as `customer` would get it, tracking aside: the editor's preview."""
    compiled = compile_template(template)
    preview = Message(pk=0, origin="preview", customer=customer, channel=template.channel, template=template)
    context = batch_context([preview], {customer.pk: customer}, compiled.reads)[0]
    rendered = compiled.render(customer.language, {**context, **tracking.links_for(preview)})
    return rendered.subject, rendered.html, rendered.text


def send_test(*, template: Template, customer: Customer, to: str, sender: SenderIdentity | None) -> None:
    """Send `template`, rendered for `customer`, to `to` (the staff member's own address) at once: not through the
    outbox, not recorded on the customer. Raises TemplateProblem or TransportError with the reason."""
    subject, html, text = render_for(template, customer)
    from_ = Sender(name=sender.name, address=sender.address, reply_to=sender.reply_to) if sender else Sender()
    outgoing = Outgoing(
        key="kervan-test", to=to, sender=from_, subject=f"[TEST] {subject}", html=html, text=text, marketing=False
    )
    with transport_for(template.channel) as transport:
        transport.send(outgoing)
