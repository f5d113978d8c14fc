from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "kervan.orders"
    label = "orders"

    def ready(self) -> None:
        import datetime as dt

        from kervan.accounts.permissions import READ, WRITE, register_area
        from kervan.core.schedule import register_schedule
        from kervan.currency.actions import on_rates_stored
        from kervan.orders import timeline
        from kervan.orders.rates import orders_rated
        from kervan.orders.tasks import stats_check_sample

        register_area("orders", _("Orders"), marketing=READ, sales=WRITE, support=WRITE, analyst=READ, readonly=READ)

        timeline.register()
        on_rates_stored(orders_rated)  # orders awaiting a rate are counted once it is stored
        # A sampled check of the customer totals against their orders, each night: drift is logged ("stats.drift").
        register_schedule("stats_check_sample", stats_check_sample, every=dt.timedelta(days=1), at=dt.time(4, 0))
