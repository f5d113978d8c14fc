"""The customers' card on the Today page (kervan.workspace.today): customers new today, linked to the customer list
from today on. Counted as that list filters (active profiles created since the start of today in the shop's time
zone): a range scan on the (created_at) index."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.core.filters import day_start
from kervan.customers.models import Customer
from kervan.workspace.today import TodayCard, bounded_count, list_url, register_today_card


def new_today(actor: Actor):
    return actor.scope("customers", Customer.objects.active().filter(created_at__gte=day_start(clock.localdate())))


def new_customers_context(actor: Actor) -> dict:
    return {
        "count": bounded_count(new_today(actor)),
        "url": list_url("customers:list", created_from=clock.localdate().isoformat()),
    }


def register() -> None:
    register_today_card(
        TodayCard(
            "new_customers",
            _("New customers"),
            area="customers",
            template="customers/today_new.html",
            context=new_customers_context,
            position=40,
        )
    )
