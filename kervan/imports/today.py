"""The imports' card on the Today page (kervan.workspace.today): imports running now and imports that failed in the
last days, each linked to the imports list filtered the same way. The jobs table is small (one row per uploaded
file), so these counts read it directly."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy as _

from kervan.accounts.actors import Actor
from kervan.core import clock
from kervan.imports.actions import import_job_fail_if_abandoned
from kervan.imports.selectors import import_jobs_filtered
from kervan.workspace.today import TodayCard, bounded_count, list_url, register_today_card

FAILED_DAYS = 7  # a failed import stays on the Today page this many days


def imports_context(actor: Actor) -> dict | None:
    """None when nothing runs and nothing failed lately: the card is left out."""
    since = (clock.localdate() - dt.timedelta(days=FAILED_DAYS - 1)).isoformat()
    # A job whose worker ended is failed when read (kervan.imports.liveness): read the few running ones first, so a
    # dead import counts as failed, not running.
    running = import_jobs_filtered(actor=actor, status="running")
    for job in running[:20]:
        import_job_fail_if_abandoned(job)
    running_count = bounded_count(running)
    failed_count = bounded_count(import_jobs_filtered(actor=actor, status="failed", since=since))
    if not running_count and not failed_count:
        return None
    return {
        "running": running_count,
        "failed": failed_count,
        "failed_days": FAILED_DAYS,
        "running_url": list_url("imports:list", status="running"),
        "failed_url": list_url("imports:list", status="failed", since=since),
    }


def register() -> None:
    register_today_card(
        TodayCard(
            "imports",
            _("Imports"),
            area="imports",
            access="write",  # the imports list is for roles that may import
            template="imports/today_imports.html",
            context=imports_context,
            position=80,
        )
    )
