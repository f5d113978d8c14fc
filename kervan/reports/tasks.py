"""Background work for the Analytics page: thin and idempotent."""

from django_tasks import task


@task()
def analytics_refresh_task() -> int:
    """Re-sum the recent closed days of the channel rollup and recount the all-customer figures
    (kervan.reports.rollup.analytics_refresh); every hour. Returns how many days were stored."""
    from kervan.reports.rollup import analytics_refresh

    return analytics_refresh()


@task()
def analytics_cohorts_refresh_task() -> int:
    """Recount the monthly cohort table (kervan.reports.rollup.cohorts_refresh); each night. Returns its cells."""
    from kervan.reports.rollup import cohorts_refresh

    return cohorts_refresh()


@task()
def analytics_rebuild_task() -> int:
    """Re-sum every stored day, the cohorts and the repeat rate (kervan.reports.rollup.rollup_rebuild): queued when
    a change any day may show is announced (an import of history). Returns how many days were stored."""
    from kervan.reports.rollup import rollup_rebuild

    return rollup_rebuild()
