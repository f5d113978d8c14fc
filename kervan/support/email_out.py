"""Replies by email: an agent's reply to a ticket with a requester address is queued (reply_queue, called by
ticket_actions.deliver_reply in the reply's transaction) and sent by the scheduled task (replies_send_due) through
the messaging channels' email transport, with the message's files attached.

Threading: each reply gets its own Message-ID (kept in TicketMessage.email_message_id, so the customer's answer
finds the ticket by In-Reply-To), answers the customer's last email (In-Reply-To) and names the conversation's
earlier emails (References); the subject carries the ticket's number, "Re: <subject> [T-000123]", for mail that
lost those headers. From and Reply-To are the support address (KERVAN_SUPPORT_EMAIL).

Due replies are claimed with kervan.core.claim (TicketMessage is DueWork), so several workers never send one reply
twice at once. A worker that dies mid-send leaves its reply due again when the lease ends: it is sent again with the
same Message-ID, which mail clients show once; for a customer's answer a second copy is better than none. Retryable
failures come back with a growing back-off and fail after MAX_ATTEMPTS; permanent ones fail at once, the reason
shown on the ticket."""

import datetime as dt
import logging
import re
from collections import defaultdict
from email.utils import make_msgid
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.audit import audit
from kervan.core.claim import claim_due, finish, release, worker_name
from kervan.core.queue import enqueue_on_commit
from kervan.messaging.channels import transport_for
from kervan.messaging.channels.base import Outgoing, Sender, Transport, TransportError
from kervan.support.models import Ticket, TicketMessage

log = logging.getLogger(__name__)

Delivery = TicketMessage.Delivery
LEASE = dt.timedelta(minutes=2)
MAX_ATTEMPTS = 6
BACKOFF = (60, 300, 900, 3600, 3 * 3600)  # seconds before the next try
REFERENCES_MAX = 20
ERROR_MAX = 300
_TOKEN = re.compile(r"\[T-\d{6,}\]")
_REPLY_PREFIX = re.compile(r"^\s*((re|ynt|cvp|fwd?|ilt)\s*:\s*)+", re.IGNORECASE)


def support_address() -> str:
    """The address replies come from and customers write to: KERVAN_SUPPORT_EMAIL, else "destek@" and the host of
    KERVAN_PUBLIC_URL (without "www."), else destek@localhost."""
    configured = str(getattr(settings, "KERVAN_SUPPORT_EMAIL", "") or "").strip().lower()
    if configured:
        return configured
    host = (urlsplit(getattr(settings, "KERVAN_PUBLIC_URL", "") or "").hostname or "").lower().removeprefix("www.")
    if not host or host.replace(".", "").isdigit() or ":" in host:
        host = "localhost"
    return f"destek@{host}"


def support_domain() -> str:
    return support_address().rpartition("@")[2]


def reply_subject(ticket: Ticket) -> str:
    """ "Re: <subject> [T-000123]": one "Re:" whatever the customer's client added, the ticket's number once."""
    subject = _REPLY_PREFIX.sub("", _TOKEN.sub("", ticket.subject)).strip()
    return f"Re: {subject} [{ticket.number}]" if subject else f"Re: [{ticket.number}]"


def reply_queue(message: TicketMessage) -> bool:
    """Queue an outbound message to be emailed, in the caller's transaction (the send is enqueued on its commit);
    False when the ticket has no address to write to."""
    if message.direction != TicketMessage.Direction.OUTBOUND or not message.ticket.requester_email:
        return False
    message.delivery = Delivery.QUEUED
    message.due_at = clock.now()
    message.attempts = 0
    message.delivery_error = ""
    if not message.email_message_id:
        message.email_message_id = make_msgid(idstring=f"t{message.ticket_id}", domain=support_domain())
    message.save(update_fields=["delivery", "due_at", "attempts", "delivery_error", "email_message_id"])
    from kervan.support.tasks import ticket_replies_send_task

    enqueue_on_commit(ticket_replies_send_task)
    return True


# ---------------------------------------------------------------- the worker


def replies_send_due(*, limit: int = 50, worker: str = "") -> dict[str, int]:
    """Send up to `limit` due replies; returns how many ended how ("sent", "retry", "failed", "lost")."""
    claimed = claim_due(
        TicketMessage.objects.filter(delivery=Delivery.QUEUED), worker=worker or worker_name(), limit=limit, lease=LEASE
    )
    if not claimed:
        return {}
    outcome: dict[str, int] = defaultdict(int)
    loaded = TicketMessage.objects.select_related("ticket", "author_user").prefetch_related("attachments")
    with transport_for("email") as transport:
        for message in loaded.filter(pk__in=[m.pk for m in claimed]).order_by("due_at", "id"):
            outcome[_send_one(message, transport)] += 1
    return dict(outcome)


def _thread_headers(message: TicketMessage) -> dict[str, str]:
    earlier = list(
        TicketMessage.objects.filter(ticket_id=message.ticket_id, id__lt=message.pk)
        .exclude(email_message_id="")
        .exclude(direction=TicketMessage.Direction.NOTE)
        .order_by("id")
        .values_list("direction", "email_message_id")
    )
    headers = {"Message-ID": message.email_message_id}
    inbound = [mid for direction, mid in earlier if direction == TicketMessage.Direction.INBOUND]
    if inbound:
        headers["In-Reply-To"] = inbound[-1]
    references = [mid for _direction, mid in earlier][-REFERENCES_MAX:]
    if references:
        headers["References"] = " ".join(references)
    return headers


def outgoing_for(message: TicketMessage) -> Outgoing:
    """The reply as the email transport takes it (reads its files)."""
    ticket = message.ticket
    address = support_address()
    with translation.override(ticket.language):
        footer = _("Your request %(number)s: reply to this email to write to us.") % {"number": ticket.number}
    files = tuple(
        (attachment.filename, _read(attachment), attachment.content_type) for attachment in message.attachments.all()
    )
    return Outgoing(
        key=f"ticket-message-{message.pk}",
        to=ticket.requester_email,
        sender=Sender(address=address, reply_to=address),
        subject=reply_subject(ticket),
        text=f"{message.body}\n\n-- \n{footer}\n",
        headers=_thread_headers(message),
        marketing=False,
        attachments=files,
    )


def _read(attachment) -> bytes:
    with attachment.file.open("rb") as handle:
        return handle.read()


def _send_one(message: TicketMessage, transport: Transport) -> str:
    if not message.ticket.requester_email:  # erased meanwhile (a privacy request)
        return _fail(message, _("The ticket has no email address."))
    try:
        outgoing = outgoing_for(message)
    except OSError as error:
        return _fail(message, _("An attached file could not be read: %(error)s") % {"error": error})
    try:
        transport.send(outgoing)
    except TransportError as error:
        if error.permanent or message.attempts >= MAX_ATTEMPTS:
            return _fail(message, error.reason)
        backoff = BACKOFF[min(message.attempts, len(BACKOFF)) - 1]
        retry_at = error.retry_at or clock.now() + dt.timedelta(seconds=backoff)
        if not release(message, due_at=retry_at, delivery_error=error.reason[:ERROR_MAX]):
            return "lost"
        log.info("Ticket reply %s not sent, tried again at %s: %s", message.pk, retry_at, error.reason)
        return "retry"
    with transaction.atomic():
        if not finish(message, delivery=Delivery.SENT, sent_at=clock.now(), delivery_error=""):
            return "lost"
        _audit(message, Delivery.SENT)
    return "sent"


def _fail(message: TicketMessage, reason: str) -> str:
    with transaction.atomic():
        if not finish(message, delivery=Delivery.FAILED, delivery_error=reason[:ERROR_MAX]):
            return "lost"
        _audit(message, Delivery.FAILED, reason=reason[:ERROR_MAX])
    log.warning("Ticket reply %s not delivered: %s", message.pk, reason)
    return "failed"


def _audit(message: TicketMessage, delivery: str, reason: str = "") -> None:
    changes: dict = {"reply_delivery": [message.pk, delivery]}
    if reason:
        changes["delivery_error"] = reason
    ticket = message.ticket
    audit(actor=Actor.system(), action="update", obj=ticket, customer_id=ticket.customer_id, changes=changes)
