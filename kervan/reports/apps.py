from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "kervan.reports"
    label = "reports"

    def ready(self) -> None:
        import datetime as dt

        from kervan.core.changes import ChangeListener, register_change_listener
        from kervan.core.schedule import register_schedule
        from kervan.reports import cards
        from kervan.reports.tasks import analytics_cohorts_refresh_task, analytics_refresh_task

        cards.register()
        # An import of old orders changes days the hourly refresh never re-sums: rebuild them in the background.
        register_change_listener(ChangeListener("reports", _per_customer_changes_are_hourly, _rebuild_all_days))
        # The recent closed days of the channel rollup and the all-customer figures, every hour (kervan.reports.rollup);
        # the cohort table, a pass over every order, each night after the predictions.
        register_schedule("analytics_refresh", analytics_refresh_task, every=dt.timedelta(hours=1))
        register_schedule(
            "analytics_cohorts_refresh", analytics_cohorts_refresh_task, every=dt.timedelta(days=1), at=dt.time(5, 0)
        )


def _per_customer_changes_are_hourly(customer_ids: list[int], events_only: bool) -> None:
    """A customer's change reaches the page with the hourly re-sum of recent days (today is summed live)."""


def _rebuild_all_days() -> None:
    from kervan.core.queue import enqueue_on_commit
    from kervan.reports.tasks import analytics_rebuild_task

    enqueue_on_commit(analytics_rebuild_task)
