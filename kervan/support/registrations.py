"""How support plugs into the rest: its permission area, its menu entries, and for tickets the outgoing webhook
"ticket.created", the Customer 360 timeline and merge, its part of a privacy request and the SLA check's schedule."""

import datetime as dt

from django.utils.translation import gettext_lazy as _


def register() -> None:
    from kervan.accounts.permissions import READ, WRITE, register_area
    from kervan.core.outgoing import register_outbound_event
    from kervan.core.schedule import register_schedule
    from kervan.customers.registry import register_privacy
    from kervan.support import privacy, tasks, timeline

    register_area("support", _("Support"), support=WRITE, marketing=READ, analyst=READ)
    register_outbound_event("ticket.created", _("Ticket created"))
    register_privacy(privacy.HANDLER)  # its part of a personal data export or erasure
    timeline.register()
    register_schedule("tickets_sla_check", tasks.tickets_sla_check_task, every=dt.timedelta(minutes=5))
    try:
        from kervan.workspace.nav import NavItem, register_nav
    except ImportError:  # pragma: no cover
        return
    # One menu entry for the whole help desk (the top bar stays one row on a desktop): tickets first, the knowledge
    # base a tab away (support/_tabs.html).
    register_nav(NavItem("support", _("Support"), "support:ticket_list", area="support", position=45))
