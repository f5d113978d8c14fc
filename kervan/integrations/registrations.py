"""How integrations plug into the rest: permission area, schedules, menu."""

import datetime as dt

from django.utils.translation import gettext_lazy as _


def register() -> None:
    from kervan.accounts.permissions import READ, register_area
    from kervan.core.crypto import register_encrypted_field
    from kervan.core.schedule import register_schedule
    from kervan.integrations import tasks
    from kervan.integrations.models import Connection

    register_encrypted_field(Connection, "credentials_encrypted")
    from kervan.customers.registry import register_privacy
    from kervan.integrations import privacy

    register_privacy(privacy.HANDLER)  # stored payloads that name the person lose their body
    register_schedule("integrations_prune", tasks.deliveries_prune_task, every=dt.timedelta(days=1))

    # Credentials and replays are an Admin's; analysts may look at sync health.
    register_area("integrations", _("Integrations"), analyst=READ)
    # Stored deliveries and backfill pages every few seconds (a dedicated `manage.py integrations_run` worker is
    # faster still); platforms without webhooks (OpenCart) are read every few minutes.
    register_schedule("integrations_tick", tasks.integrations_tick_task, every=dt.timedelta(seconds=5))
    register_schedule("integrations_poll", tasks.integrations_poll_task, every=dt.timedelta(minutes=5))
