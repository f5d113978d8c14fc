from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "kervan.orders"
    label = "orders"

    def ready(self) -> None:
        from kervan.accounts.permissions import READ, WRITE, register_area
        from kervan.currency.actions import on_rates_stored
        from kervan.orders import timeline
        from kervan.orders.rates import orders_rated

        register_area("orders", _("Orders"), marketing=READ, sales=WRITE, support=WRITE, analyst=READ, readonly=READ)

        timeline.register()
        on_rates_stored(orders_rated)  # orders awaiting a rate are counted once it is stored
