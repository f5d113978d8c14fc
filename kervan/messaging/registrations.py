"""How messaging plugs into the rest: its permission area, its schedule, its page in the menu, the rows that follow
a customer through a merge and a visitor through an identify."""

import datetime as dt

from django.utils.translation import gettext_lazy as _


def register() -> None:
    from kervan.accounts.permissions import READ, WRITE, register_area
    from kervan.core.schedule import register_schedule
    from kervan.customers.registry import register_merge
    from kervan.events.identified import register_visitor_identified
    from kervan.messaging import actions, tasks
    from kervan.messaging.channels.push.subscribe import attach_visitor

    register_area("messaging", _("Messaging"), marketing=WRITE, analyst=READ, support=READ)
    register_merge("messaging", actions.messaging_reassign)
    from kervan.customers.registry import register_privacy
    from kervan.messaging import privacy

    register_privacy(privacy.HANDLER)  # its part of a personal data export or erasure
    # A browser subscribed to push before its visitor was known joins the customer the visitor turns out to be.
    register_visitor_identified("messaging.push", attach_visitor)
    register_schedule("messages_send", tasks.messages_send_task, every=dt.timedelta(seconds=10))

    from anymail.signals import tracking

    from kervan.messaging.channels.email.esp import on_tracking

    # An ESP's delivery, open, click, bounce, complaint and unsubscribe reports (anymail's webhooks).
    tracking.connect(on_tracking, dispatch_uid="kervan.messaging.esp")
