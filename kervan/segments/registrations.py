"""What the segments app plugs into: its permission area, menu entry, schedules, 360 chips, customer-list action."""

import datetime as dt

from django.utils.translation import gettext_lazy as _


def register() -> None:
    from kervan.accounts.permissions import READ, WRITE, register_area
    from kervan.core.schedule import register_schedule
    from kervan.segments import tasks

    register_area("segments", _("Segments"), marketing=WRITE, analyst=READ, sales=READ)
    register_schedule("segments_rebuild_relative", tasks.segments_rebuild_relative, every=dt.timedelta(minutes=5))
    register_schedule("segments_rebuild_all", tasks.segments_rebuild_all, every=dt.timedelta(hours=1))
    register_schedule("segments_refresh_touched", tasks.segments_refresh_touched_task, every=dt.timedelta(seconds=5))
    try:
        from kervan.workspace.nav import NavItem, register_nav
    except ImportError:  # pragma: no cover
        return
    register_nav(NavItem("segments", _("Segments"), "segments:list", area="segments", position=15))
    from kervan.segments import ui_registrations

    ui_registrations.register()
