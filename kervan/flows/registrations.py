"""How flows plug into the rest: permission area, merges, schedules, menu."""

import datetime as dt

from django.utils.translation import gettext_lazy as _


def register() -> None:
    from kervan.accounts.permissions import READ, WRITE, register_area
    from kervan.core.schedule import register_schedule
    from kervan.customers.registry import register_merge
    from kervan.flows import tasks
    from kervan.flows.actions import runs_reassign

    register_area("flows", _("Flows"), marketing=WRITE, analyst=READ)
    register_merge("flows", runs_reassign)
    from kervan.customers.registry import register_privacy
    from kervan.flows import privacy

    register_privacy(privacy.HANDLER)  # its part of a personal data export or erasure
    # Events to triggers, exits and conversions, then the due steps: every few seconds. Scanned triggers (dates,
    # win-back, stock) every few minutes: a birthday does not need the second it starts.
    register_schedule("flows_tick", tasks.flows_tick_task, every=dt.timedelta(seconds=5))
    register_schedule("flows_scan", tasks.flows_scan_task, every=dt.timedelta(minutes=5))
    try:
        from kervan.workspace.nav import NavItem, register_nav
    except ImportError:  # pragma: no cover
        return
    register_nav(NavItem("flows", _("Flows"), "flows:list", area="flows", position=21))
