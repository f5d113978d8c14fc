"""How outbound plugs into the rest: its permission area (Admin only), the CRM events endpoints may choose, the sink
that turns an emitted event into deliveries, and its schedules."""

import datetime as dt

from django.utils.translation import gettext_lazy as _

# The events of the CRM core and its domains, emitted where they happen (customers.actions, customers.consent,
# segments.actions, orders.actions). An app with its own event registers it from its own ready() (ticket.created).
BUILT_IN_EVENTS = [
    ("customer.created", _("Customer created")),
    ("customer.merged", _("Customers merged")),
    ("segment.entered", _("Customer entered a segment")),
    ("segment.exited", _("Customer left a segment")),
    ("consent.changed", _("Consent changed")),
    ("order.placed", _("Order placed")),
]


def register() -> None:
    from kervan.accounts.permissions import register_area
    from kervan.core.crypto import register_encrypted_field
    from kervan.core.outgoing import register_outbound_event, set_outbound_sink
    from kervan.core.schedule import register_schedule
    from kervan.outbound import tasks
    from kervan.outbound.models import WebhookEndpoint
    from kervan.outbound.outbox import deliveries_add

    register_encrypted_field(WebhookEndpoint, "secret_encrypted")
    from kervan.customers.registry import register_privacy
    from kervan.outbound import privacy

    register_privacy(privacy.HANDLER)  # payloads that name the person lose their data
    register_area("outbound", _("Webhooks and exports"))  # Admin only: endpoints hold secrets, exports all data
    for name, label in BUILT_IN_EVENTS:
        register_outbound_event(name, label)
    set_outbound_sink(deliveries_add)
    register_schedule("outbound_send", tasks.outbound_send_task, every=dt.timedelta(seconds=5))
    register_schedule("outbound_exports", tasks.exports_run_task, every=dt.timedelta(minutes=1))
