"""The events' card on the Today page (kervan.workspace.today): checkouts started in the last 24 hours that no order
followed, linked to the event list of "Started Checkout" events since then (`/events/?name=Started+Checkout&since=<the
minute 24 hours ago>`; the list shows every checkout of the window, the card counts those no order followed).

"No order followed" is read from the event store itself: every order records a "Placed Order" event for its customer
(kervan.orders.actions.order_create), so a checkout is abandoned when its customer has no "Placed Order" at or after
it — one probe of the (customer, name, occurred_at) index per checkout. A visitor not yet known as a customer is
matched by their anonymous id among the unidentified events (the partial anonymous-id index). The checkouts of the
last 24 hours are found through a partial index on the time of "Started Checkout" events only
(event_checkout_time_idx), which costs the tracker nothing for its other events.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.humanize.templatetags.humanize import intcomma
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.events.models import CanonicalEvent, Event
from kervan.workspace.today import (
    TodayCard,
    bounded_count,
    count_now_or_stored,
    list_url,
    register_today_card,
    register_today_count,
)

WINDOW = dt.timedelta(hours=24)


def checkouts_since(actor: Actor, since: dt.datetime):
    return actor.scope("events", Event.objects.filter(name=CanonicalEvent.STARTED_CHECKOUT, occurred_at__gte=since))


def abandoned_checkouts(actor: Actor, since: dt.datetime):
    """The "Started Checkout" events since `since` that no "Placed Order" of the same person followed."""
    placed_after = Event.objects.filter(name=CanonicalEvent.PLACED_ORDER, occurred_at__gte=OuterRef("occurred_at"))
    by_customer = placed_after.filter(customer_id=OuterRef("customer_id"))
    by_visitor = placed_after.filter(customer__isnull=True, anonymous_id=OuterRef("anonymous_id")).exclude(
        anonymous_id=""
    )
    return checkouts_since(actor, since).filter(
        Q(~Exists(by_customer), customer__isnull=False) | Q(~Exists(by_visitor), customer__isnull=True)
    )


def window_start() -> dt.datetime:
    """The minute 24 hours ago, in the shop's time: what the event list's "since" (YYYY-MM-DD HH:MM) shows."""
    return timezone.localtime(clock.now() - WINDOW).replace(second=0, microsecond=0)


def checkouts_context(actor: Actor) -> dict:
    since = window_start()
    return {
        "count": (shown := count_now_or_stored("abandoned_checkouts", actor)).count,
        "as_of": shown.as_of,
        "started": (started := bounded_count(checkouts_since(actor, since))),
        "started_text": f"{intcomma(started.value)}{'+' if started.more else ''}",
        "url": list_url("events:list", name=CanonicalEvent.STARTED_CHECKOUT, since=since.strftime("%Y-%m-%d %H:%M")),
    }


def register() -> None:
    # Each checkout of the window is one index probe: a shop with a very busy day is counted in the background.
    register_today_count("abandoned_checkouts", lambda actor: abandoned_checkouts(actor, window_start()))
    register_today_card(
        TodayCard(
            "abandoned_checkouts",
            _("Checkouts with no order"),
            area="events",
            template="events/today_checkouts.html",
            context=checkouts_context,
            position=30,
        )
    )
