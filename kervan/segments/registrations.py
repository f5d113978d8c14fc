"""What the segments app plugs into: its permission area, menu entry, schedules, 360 chips, customer-list action."""

import datetime as dt

from django.utils.translation import gettext_lazy as _


def register() -> None:
    from django.db.models.signals import post_delete, post_save

    from kervan.accounts.permissions import READ, WRITE, register_area
    from kervan.core.changes import ChangeListener, register_change_listener
    from kervan.core.schedule import register_schedule
    from kervan.segments import freshness, tasks
    from kervan.segments.models import Segment

    register_area("segments", _("Segments"), marketing=WRITE, analyst=READ, sales=READ)
    register_schedule("segments_move_with_time", tasks.segments_move_with_time, every=freshness.MOVE_EVERY)
    from kervan.customers.registry import register_privacy
    from kervan.segments import privacy

    register_privacy(privacy.HANDLER)  # its part of a personal data export or erasure
    register_change_listener(
        ChangeListener("segments", freshness.segments_touch, freshness.segments_everything_changed)
    )
    post_save.connect(freshness.forget_any_segment, sender=Segment, dispatch_uid="segments-any")
    post_delete.connect(freshness.forget_any_segment, sender=Segment, dispatch_uid="segments-any")
    register_schedule("segments_rebuild_all", tasks.segments_rebuild_all, every=dt.timedelta(hours=1))
    register_schedule("segments_refresh_touched", tasks.segments_refresh_touched_task, every=dt.timedelta(seconds=5))
    try:
        from kervan.workspace.nav import NavItem, register_nav
    except ImportError:  # pragma: no cover
        return
    register_nav(NavItem("segments", _("Segments"), "segments:list", area="segments", position=15))
    from kervan.segments import ui_registrations

    ui_registrations.register()
