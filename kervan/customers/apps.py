from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "kervan.customers"
    label = "customers"

    def ready(self) -> None:
        from kervan.accounts.permissions import READ, WRITE, register_area
        from kervan.customers import timeline

        register_area(
            "customers", _("Customers"), marketing=WRITE, sales=WRITE, support=WRITE, analyst=READ, readonly=READ
        )

        timeline.register()
