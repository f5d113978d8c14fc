import datetime as dt

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kervan.core"
    label = "core"

    def ready(self) -> None:
        from kervan.core.schedule import register_schedule
        from kervan.core.tasks import sqlite_statistics_refresh

        register_schedule(
            "sqlite_statistics_refresh", sqlite_statistics_refresh, every=dt.timedelta(days=1), at=dt.time(4, 30)
        )
