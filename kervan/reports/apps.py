from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "kervan.reports"
    label = "reports"

    def ready(self) -> None:
        import datetime as dt

        from kervan.core.schedule import register_schedule
        from kervan.reports import cards
        from kervan.reports.tasks import analytics_cohorts_refresh_task, analytics_refresh_task

        cards.register()
        # The recent closed days of the channel rollup and the all-customer figures, every hour (kervan.reports.rollup);
        # the cohort table, a pass over every order, each night after the predictions.
        register_schedule("analytics_refresh", analytics_refresh_task, every=dt.timedelta(hours=1))
        register_schedule(
            "analytics_cohorts_refresh", analytics_cohorts_refresh_task, every=dt.timedelta(days=1), at=dt.time(5, 0)
        )
