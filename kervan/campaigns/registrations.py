"""How campaigns plug into the rest: permission area, schedule, menu."""

import datetime as dt

from django.utils.translation import gettext_lazy as _


def register() -> None:
    from kervan.accounts.permissions import READ, WRITE, register_area
    from kervan.campaigns import tasks
    from kervan.core.schedule import register_schedule

    register_area("campaigns", _("Campaigns"), marketing=WRITE, analyst=READ)
    register_schedule("campaigns_advance", tasks.campaigns_advance_task, every=dt.timedelta(seconds=10))
    try:
        from kervan.workspace.nav import NavItem, register_nav
    except ImportError:  # pragma: no cover
        return
    register_nav(NavItem("campaigns", _("Campaigns"), "campaigns:list", area="campaigns", position=20))
