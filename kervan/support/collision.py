"""Two agents on one ticket: who else has it open (and is writing a reply), and the guard that stops a reply written
without having seen a newer message.

The ticket page reports the agent as a viewer when it loads and then every few seconds (htmx), saying whether the
reply box holds text; the others seen in the last VIEWER_WINDOW are shown ("Ayşe is viewing", "Ayşe is writing a
reply"). A viewer row is a moment's presence, not customer data: it is not audited.

The reply form carries the id of the newest message the agent saw; a public message (the customer's, or another
agent's reply) newer than that holds the reply back until the agent has read it and chooses to send anyway."""

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.support.models import Ticket, TicketMessage, TicketViewer

VIEWER_WINDOW = dt.timedelta(seconds=30)
PUBLIC = (TicketMessage.Direction.INBOUND, TicketMessage.Direction.OUTBOUND)


@dataclass(frozen=True)
class OtherViewer:
    user_id: int
    name: str
    composing: bool


def _name(user) -> str:
    return user.get_full_name() or user.username


def ticket_viewer_seen(*, actor: Actor, ticket: Ticket, composing: bool = False) -> None:
    """Record that the signed-in agent has the ticket open now (and whether they are writing a reply)."""
    actor.require("support", "read")
    if actor.user is None:
        return
    values = {"seen_at": clock.now(), "composing": bool(composing)}
    updated = TicketViewer.objects.filter(ticket=ticket, user=actor.user).update(**values)
    if not updated:
        try:
            with transaction.atomic():
                TicketViewer.objects.create(ticket=ticket, user=actor.user, **values)
        except IntegrityError:  # the same agent's other tab created it in the meantime
            TicketViewer.objects.filter(ticket=ticket, user=actor.user).update(**values)


def ticket_other_viewers(*, actor: Actor, ticket: Ticket) -> list[OtherViewer]:
    """The other agents seen on the ticket in the last VIEWER_WINDOW, writers first."""
    recent = (
        TicketViewer.objects.filter(ticket=ticket, seen_at__gte=clock.now() - VIEWER_WINDOW)
        .exclude(user_id=actor.user_id)
        .select_related("user")
        .order_by("-composing", "user__username")
    )
    return [OtherViewer(row.user_id, _name(row.user), row.composing) for row in recent]


def newest_message_id(ticket: Ticket) -> int:
    """The id the reply form carries: the newest message on the ticket when the page was drawn."""
    return ticket.messages.order_by("-id").values_list("id", flat=True).first() or 0


def messages_since(*, actor: Actor, ticket: Ticket, seen_message_id) -> list[TicketMessage]:
    """Public messages newer than the one the agent saw, not written by the agent: a reply now would cross them.
    A form without the id (an old page, the API) is not held."""
    given = str(seen_message_id or "").strip()
    if not given.isdigit() or len(given) > 18:
        return []
    newer = ticket.messages.filter(pk__gt=int(given), direction__in=PUBLIC).select_related(
        "author_user", "author_customer"
    )
    if actor.user_id is not None:
        newer = newer.exclude(author_user_id=actor.user_id)
    return list(newer.order_by("id"))
