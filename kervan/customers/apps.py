from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "kervan.customers"
    label = "customers"

    def ready(self) -> None:
        from kervan.accounts.permissions import READ, WRITE, register_area
        from kervan.customers import timeline
        from kervan.customers.lists import CUSTOMER_LIST, customer_search
        from kervan.workspace.lists import register_list
        from kervan.workspace.nav import NavItem, register_nav
        from kervan.workspace.search import SearchSource, register_search

        register_area(
            "customers", _("Customers"), marketing=WRITE, sales=WRITE, support=WRITE, analyst=READ, readonly=READ
        )

        # Exporting and erasing a person's data (customers.privacy): Admins only, and API keys given this area.
        register_area("privacy", _("Personal data requests"))
        timeline.register()
        register_list(CUSTOMER_LIST)
        register_nav(NavItem("customers", _("Customers"), "customers:list", area="customers", position=10))
        register_search(SearchSource("customers", _("Customers"), "customers", customer_search, position=10))
        from kervan.customers import today  # its cards on the Today page

        today.register()
