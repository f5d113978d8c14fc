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
        from kervan.orders import lists as order_lists
        from kervan.orders import timeline
        from kervan.orders.rates import orders_rated
        from kervan.orders.tasks import stats_check_sample

        register_area("orders", _("Orders"), marketing=READ, sales=WRITE, support=WRITE, analyst=READ, readonly=READ)

        timeline.register()
        order_lists.register()  # the order list, menu, search, and the catalogue's sales feed and product panel
        on_rates_stored(orders_rated)  # orders awaiting a rate are counted once it is stored
        # A sampled check of the customer totals against their orders, each night: drift is logged ("stats.drift").
        register_schedule("stats_check_sample", stats_check_sample, every=dt.timedelta(days=1), at=dt.time(4, 0))

        from kervan.orders import today  # its cards on the Today page
        from kervan.orders.tasks import daily_sales_refresh

        today.register()
        # The daily sales rollup of the Today page's chart: the recent closed days re-summed each hour (daily_sales).
        register_schedule("daily_sales_refresh", daily_sales_refresh, every=dt.timedelta(hours=1))
