"""How support plugs into the rest: its permission area, its menu entries, and for tickets the outgoing webhook
"ticket.created", the Customer 360 timeline and merge, its part of a privacy request and the SLA check's schedule."""

import datetime as dt

from django.utils.translation import gettext_lazy as _


def register() -> None:
    from kervan.accounts.permissions import READ, WRITE, register_area
    from kervan.core.outgoing import register_outbound_event
    from kervan.core.schedule import register_schedule
    from kervan.customers.registry import register_privacy
    from kervan.support import csat, privacy, tasks, timeline

    register_area("support", _("Support"), support=WRITE, marketing=READ, analyst=READ)
    register_outbound_event("ticket.created", _("Ticket created"))
    register_privacy(privacy.HANDLER)  # its part of a personal data export or erasure
    timeline.register()
    csat.register()  # survey answers on the 360 timeline and in a merge; the survey emails' schedule
    register_schedule("tickets_sla_check", tasks.tickets_sla_check_task, every=dt.timedelta(minutes=5))
    register_schedule("ticket_replies_send", tasks.ticket_replies_send_task, every=dt.timedelta(seconds=10))
    register_schedule("chats_unanswered", tasks.chats_unanswered_task, every=dt.timedelta(minutes=1))
    from anymail.signals import inbound

    from kervan.support.email_in import on_esp_inbound

    # Email an ESP received for the support address (anymail's inbound webhooks): a ticket or a message on one.
    inbound.connect(on_esp_inbound, dispatch_uid="kervan.support.esp_inbound")
    try:
        from kervan.workspace.nav import NavItem, register_nav
    except ImportError:  # pragma: no cover
        return
    # One menu entry for the whole help desk (the top bar stays one row on a desktop): tickets first, the knowledge
    # base a tab away (support/_tabs.html).
    register_nav(NavItem("support", _("Support"), "support:ticket_list", area="support", position=45))
